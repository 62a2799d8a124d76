"""How well the anomaly detector finds known shocks: precision and recall against a ground truth.

The ground truth is a list of shocks (channel, first and last day), as the demo's
``ground_truth.json`` "anomalies" lists them. A shock is found when any flagged (channel, day) falls
in its window; precision counts flagged (channel, day) pairs, whatever the metrics behind them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class DetectionQuality:
    """Precision and recall of flagged (channel, day) pairs against known shocks (fractions, 0-1)."""

    flagged: int  # distinct flagged (channel, day) pairs
    true_flags: int  # of which inside some shock window of their channel
    shocks: int
    found: list[str] = field(default_factory=list)  # "kind channel start" of each shock found
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_flags / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return len(self.found) / self.shocks if self.shocks else 1.0


def detection_quality(
    flags: pd.DataFrame, shocks: Iterable[Mapping[str, Any]], *, channel: str = "channel"
) -> DetectionQuality:
    """Score ``flags`` (rows with ``channel`` and ``period``; e.g. detect_anomalies output where is_anomaly)."""
    pairs = {(str(c), pd.Timestamp(d).date()) for c, d in zip(flags[channel], flags["period"], strict=True)}
    windows = [
        (str(s["channel_id"]), pd.Timestamp(s["start"]).date(), pd.Timestamp(s["end"]).date(), s) for s in shocks
    ]
    true_flags = sum(any(c == ch and a <= d <= b for ch, a, b, _ in windows) for c, d in pairs)
    found: list[str] = []
    missed: list[str] = []
    for ch, a, b, s in windows:
        name = f"{s.get('kind', 'shock')} {ch} {a}"
        (found if any(c == ch and a <= d <= b for c, d in pairs) else missed).append(name)
    return DetectionQuality(len(pairs), true_flags, len(windows), found, missed)
