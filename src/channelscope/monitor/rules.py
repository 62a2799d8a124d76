"""Checks of the alert rules (declared in ``config.rules``) against the project: the metrics of its catalog, its
sources and channels, and what a metric can be cut by."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channelscope.config.rules import (
    AnomalyRule,
    ChangeRule,
    FreshnessRule,
    QuarantineRateRule,
    SilenceRule,
    TargetRule,
    ThresholdRule,
)

if TYPE_CHECKING:
    from channelscope.project import Project


def check_rules(project: Project) -> None:
    """Check the names a rule takes from the project (metrics, sources, channels, what a metric can be cut by).

    Raises ConfigError with file, line and key (``alerts.rules.<i>.<key>``) at the first wrong name.
    """
    from channelscope.config._yaml import load_located
    from channelscope.errors import ConfigError
    from channelscope.metrics.query import TABLE_DIMENSIONS

    alerts = project.config.alerts
    if alerts is None:
        return
    path = project.folder / "channelscope.yaml"
    doc: Any = None

    def fail(i: int, key: str, message: str) -> None:
        nonlocal doc
        doc = doc or load_located(path)
        where = ("alerts", "rules", i, key)
        raise ConfigError(f"key '{'.'.join(map(str, where))}': {message}", file=str(path), line=doc.line_of(where))

    catalog = project.catalog
    sources = [s.name for s in project.config.sources]
    channels = [c.id for c in project.config.channels]
    for i, rule in enumerate(alerts.rules):
        metric = getattr(rule, "metric", None)
        if metric is not None and metric not in catalog:
            fail(i, "metric", f"unknown metric '{metric}'; valid: {', '.join(sorted(catalog.metrics))}")
        if isinstance(rule, ThresholdRule | ChangeRule | AnomalyRule):
            dims = [*rule.by, *rule.filters]
            for measure in catalog.base_measures([rule.metric]):
                allowed = TABLE_DIMENSIONS[measure.table]
                missing = [d for d in dims if d not in allowed]
                if missing:
                    key = "by" if missing[0] in rule.by else "filters"
                    fail(
                        i,
                        key,
                        f"metric '{rule.metric}' (from {measure.table}) cannot be cut by "
                        f"{', '.join(missing)}; it can by: {', '.join(sorted(allowed))}",
                    )
            # a misspelt channel would judge an empty scope: a threshold fires with 0, a change never fires
            wrong = [c for c in rule.filter_lists().get("channel", []) if channels and c not in channels]
            if wrong:
                fail(i, "filters", f"unknown channel '{wrong[0]}'; configured: {', '.join(channels)}")
        if isinstance(rule, FreshnessRule | QuarantineRateRule):
            for name in rule.sources:
                if name not in sources:
                    fail(i, "sources", f"unknown source '{name}'; configured: {', '.join(sources) or 'none'}")
        if isinstance(rule, FreshnessRule) and rule.max_age is None:
            chosen = rule.sources or sources
            if not any(s.expect_every for s in project.config.sources if s.name in chosen):
                fail(i, "max_age", "no source has 'expect_every' and the rule sets no 'max_age': nothing to check")
        if isinstance(rule, SilenceRule):
            for c in rule.channels:
                if c not in channels:
                    fail(i, "channels", f"unknown channel '{c}'; configured: {', '.join(channels) or 'none'}")
        if isinstance(rule, TargetRule) and rule.channel and rule.channel not in channels:
            fail(i, "channel", f"unknown channel '{rule.channel}'; configured: {', '.join(channels) or 'none'}")
