"""What a dashboard URL means: global filters (dates, channel, distributor, campaign), language and the
page's own choices, kept in the query string so a view can be shared by copying its address."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

from channelscope.web.dashboard.i18n import lang_of

#: the filters every page applies, in the order they appear in the URL
FILTER_KEYS = ("channel", "distributor", "campaign")
#: the default range when the URL has none: this many days ending on the latest day with orders
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class View:
    """One dashboard view: inclusive date range, filters (dimension -> members) and page options."""

    start: dt.date | None = None
    end: dt.date | None = None
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lang: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # page choices: metric, by, grain, compare, status

    def filter_dict(self) -> dict[str, list[str]] | None:
        """Filters as the service functions take them (None when nothing is filtered)."""
        out = {k: list(v) for k, v in self.filters.items() if v}
        return out or None

    def option(self, key: str, default: str) -> str:
        return self.options.get(key) or default

    def with_defaults(self, latest: dt.date | None, user_lang: str) -> View:
        """Fill the range (last 30 days of data) and the language (the user's) when the URL omits them."""
        end = self.end or latest or dt.date.today()
        start = self.start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            start, end = end, start
        return replace(self, start=start, end=end, lang=lang_of(self.lang or user_lang))

    def to_search(self) -> str:
        """The query string ('?start=...&channel=tmall,jd'), stable key order so equal views give equal URLs."""
        pairs: list[tuple[str, str]] = []
        if self.start:
            pairs.append(("start", self.start.isoformat()))
        if self.end:
            pairs.append(("end", self.end.isoformat()))
        for k in FILTER_KEYS:
            if self.filters.get(k):
                pairs.append((k, ",".join(self.filters[k])))
        for k in sorted(self.options):
            if self.options[k]:
                pairs.append((k, self.options[k]))
        if self.lang:
            pairs.append(("lang", self.lang))
        # a value that is not text (a lone surrogate from a forged callback) is written as "?": an unknown
        # member, never a 500
        return "?" + urlencode(pairs, safe=",", errors="replace") if pairs else ""


def parse_search(search: str | None) -> View:
    """The view a query string describes; unreadable dates are dropped (the defaults apply)."""
    q = parse_qs((search or "").lstrip("?"), keep_blank_values=False)

    def one(key: str) -> str | None:
        values = q.get(key)
        return values[-1].strip() if values and values[-1].strip() else None

    filters = {}
    for k in FILTER_KEYS:
        raw = one(k)
        if raw:
            filters[k] = tuple(x for x in raw.split(",") if x)
    options = {k: v[-1] for k, v in q.items() if k not in (*FILTER_KEYS, "start", "end", "lang") and v}
    return View(
        start=_date(one("start")),
        end=_date(one("end")),
        filters=filters,
        lang=lang_of(one("lang")) if one("lang") else None,
        options=options,
    )


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def with_values(view: View, **changes: Any) -> View:
    """A copy of ``view`` with some global values changed (``channel=[...]``, ``start=date``, ``lang='en'``)."""
    filters = dict(view.filters)
    fields: dict[str, Any] = {}
    for key, value in changes.items():
        if key in FILTER_KEYS:
            filters[key] = tuple(value or ())
        else:
            fields[key] = value
    return replace(view, filters=filters, **fields)


def option_id(key: str, default: str) -> dict[str, str]:
    """The id of a page control whose value is kept in the URL as ``key`` (``default`` when absent)."""
    return {"type": "opt", "key": key, "dflt": default}
