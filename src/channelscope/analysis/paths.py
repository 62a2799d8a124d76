"""Behaviour paths from the ``events`` table: sessions, the view -> cart/favourite -> purchase funnel, the most
common paths to purchase and to drop-off, and the links of a Sankey diagram.

Everything is computed in the engine with window functions; Python only adds rates to the aggregates.

Definitions (stated once, used by the CLI, the API and the page):

- **Session**: the events of one visitor in one channel, ordered by time; a gap of more than
  ``SESSION_GAP_MINUTES`` (30) minutes without an event starts a new session.
- **Funnel unit**: one session x product category (the category of the event's SKU in ``products``; events
  without a known category form the category ``None``). Within a unit, *viewed* = it has a view;
  *carted* / *favorited* / *engaged* = a cart / favourite / either at or after its first view;
  *purchased* = a purchase at or after its first engagement (the strict funnel); *purchased_direct* = a
  purchase at or after the first view without an engagement before it.
- **Time between steps**: first view -> first engagement, first engagement -> first purchase after it, in
  seconds, as the median over the units that made the step.
- **Path**: the event types of a session in time order, a run of the same type counted once, up to and
  including the first purchase; at most ``MAX_STEPS`` steps (a longer path ends in '...'). A session with a
  purchase is a path to purchase, any other a path to drop-off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd

from channelscope.errors import QueryError

#: inactivity that ends a session
SESSION_GAP_MINUTES = 30
#: the event types the funnel and the paths read (the others, search/share/live_view, are left out)
STEP_TYPES: tuple[str, ...] = ("view", "cart", "favorite", "purchase")
#: the order of events of the same second within a session (a view before the cart before the purchase)
_RANK = {"view": 0, "favorite": 1, "cart": 2, "purchase": 3}
#: steps of a path kept; the rest is shown as '...'
MAX_STEPS = 6
#: how a funnel can be cut
FUNNEL_BY = ("channel", "category")
SEP = ">"
MORE = "..."
EXIT = "exit"


def _steps(
    con: ibis.BaseBackend,
    *,
    start: dt.date | None,
    end: dt.date | None,
    channels: Sequence[str] | None,
) -> ir.Table:
    """The step events with their session: channel_id, visitor_key, session (1, 2, ... per visitor and
    channel), ts, secs (epoch seconds), rank, event_type, category."""
    e = con.table("events")
    e = e.filter(e.event_type.isin(list(STEP_TYPES)))
    if start is not None:
        e = e.filter(e.business_date >= start)
    if end is not None:
        e = e.filter(e.business_date <= end)
    if channels is not None:
        e = e.filter(e.channel_id.isin(list(channels)))
    p = con.table("products").select(_sku="sku", category="category")
    e = e.left_join(p, e.sku == p._sku)
    rank = e.event_type.cases(*_RANK.items(), else_=9)
    e = e.select("channel_id", "visitor_key", "ts", "event_type", "category", secs=e.ts.epoch_seconds(), rank=rank)
    w = ibis.window(group_by=[e.channel_id, e.visitor_key], order_by=[e.ts, e.rank, e.category])
    gap = e.secs - e.secs.lag().over(w)
    e = e.mutate(_new=ibis.ifelse(gap.isnull() | (gap > SESSION_GAP_MINUTES * 60), 1, 0))
    cw = ibis.cumulative_window(group_by=[e.channel_id, e.visitor_key], order_by=[e.ts, e.rank, e.category])
    return e.mutate(session=e._new.sum().over(cw)).drop("_new")


def sessions(
    con: ibis.BaseBackend,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per channel: sessions, visitors, events, sessions with a purchase, conversion (a fraction) and the median
    session length in seconds (last event - first event)."""
    s = _steps(con, start=start, end=end, channels=channels)
    per = s.group_by(["channel_id", "visitor_key", "session"]).aggregate(
        events=s.count(),
        length=s.secs.max() - s.secs.min(),
        bought=ibis.ifelse(s.event_type == "purchase", 1, 0).max(),
    )
    df = (
        per.group_by("channel_id")
        .aggregate(
            sessions=per.count(),
            visitors=per.visitor_key.nunique(),
            events=per.events.sum(),
            purchase_sessions=per.bought.sum(),
            median_session_seconds=per.length.median(),
        )
        .order_by("channel_id")
        .to_pandas()
    )
    df["conversion"] = df["purchase_sessions"] / df["sessions"].where(df["sessions"] > 0)
    return df


def funnel(
    con: ibis.BaseBackend,
    *,
    by: Sequence[str] = FUNNEL_BY,
    start: dt.date | None = None,
    end: dt.date | None = None,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The view -> cart/favourite -> purchase funnel per ``by`` (channel and/or category; empty: in total).

    Columns: [channel_id], [category], viewed, carted, favorited, engaged, purchased, purchased_direct,
    engage_rate (engaged / viewed), purchase_rate (purchased / engaged), conversion (purchased / viewed),
    median_view_to_engage_s, median_engage_to_purchase_s (seconds; empty where no unit made the step)."""
    bad = [b for b in by if b not in FUNNEL_BY]
    if bad:
        raise QueryError(f"the funnel cannot be cut by {', '.join(bad)}; valid: channel, category")
    s = _steps(con, start=start, end=end, channels=channels)
    unit = ["channel_id", "visitor_key", "session", "category"]
    w = ibis.window(group_by=[s[c] for c in unit])
    s = s.mutate(_v=s.secs.min(where=s.event_type == "view").over(w))
    engaged = s.event_type.isin(["cart", "favorite"]) & (s.secs >= s._v)
    s = s.mutate(_e=s.secs.min(where=engaged).over(w))
    u = s.group_by(unit).aggregate(
        v=s._v.min(),
        e=s._e.min(),
        c=s.secs.min(where=(s.event_type == "cart") & (s.secs >= s._v)),
        f=s.secs.min(where=(s.event_type == "favorite") & (s.secs >= s._v)),
        b=s.secs.min(where=(s.event_type == "purchase") & (s.secs >= s._e)),
        d=s.secs.min(where=(s.event_type == "purchase") & (s.secs >= s._v) & (s._e.isnull() | (s.secs < s._e))),
    )
    keys = [{"channel": "channel_id", "category": "category"}[b] for b in by]
    n = lambda col: ibis.ifelse(col.notnull(), 1, 0).sum()  # noqa: E731
    agg = u.aggregate(
        by=keys,
        viewed=n(u.v),
        carted=n(u.c),
        favorited=n(u.f),
        engaged=n(u.e),
        purchased=n(u.b),
        purchased_direct=n(u.d),
        median_view_to_engage_s=(u.e - u.v).median(),
        median_engage_to_purchase_s=(u.b - u.e).median(),
    )
    df = agg.order_by(keys).to_pandas() if keys else agg.to_pandas()
    df = df[df["viewed"] > 0].reset_index(drop=True)
    for c in ("median_view_to_engage_s", "median_engage_to_purchase_s"):
        df[c] = df[c].astype("float64")
    df["engage_rate"] = df["engaged"] / df["viewed"]
    df["purchase_rate"] = df["purchased"] / df["engaged"].where(df["engaged"] > 0)
    df["conversion"] = df["purchased"] / df["viewed"]
    counts = ["viewed", "carted", "favorited", "engaged", "purchased", "purchased_direct"]
    rates = ["engage_rate", "purchase_rate", "conversion", "median_view_to_engage_s", "median_engage_to_purchase_s"]
    return df[[*keys, *counts, *rates]]


def _path_steps(s: ir.Table) -> ir.Table:
    """The steps of each session up to its first purchase, a run of one type once, numbered from 1;
    ``last`` marks the session's last kept step and ``bought`` a session with a purchase."""
    sess = ["channel_id", "visitor_key", "session"]
    w = ibis.window(group_by=[s[c] for c in sess])
    s = s.mutate(_p=s.secs.min(where=s.event_type == "purchase").over(w))
    ow = ibis.window(group_by=[s[c] for c in sess], order_by=[s.ts, s.rank, s.category])
    s = s.mutate(_prev=s.event_type.lag().over(ow), _pn=ibis.row_number().over(ow))
    # a purchase ends the path: keep rows up to the first purchase row (a second purchase of that second goes)
    s = s.mutate(_first_p=s._pn.min(where=s.event_type == "purchase").over(w))
    s = s.filter(s._first_p.isnull() | (s._pn <= s._first_p))
    s = s.filter(s._prev.isnull() | (s._prev != s.event_type))
    ow2 = ibis.window(group_by=[s[c] for c in sess], order_by=[s.ts, s.rank, s.category])
    s = s.mutate(step=ibis.row_number().over(ow2) + 1, next_type=s.event_type.lead().over(ow2))
    return s.mutate(bought=s._p.notnull()).select(*sess, "step", "event_type", "next_type", "bought")


def paths(
    con: ibis.BaseBackend,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    channels: Sequence[str] | None = None,
    by_channel: bool = False,
    top: int = 10,
) -> pd.DataFrame:
    """The most common paths, ``top`` per outcome (and channel when ``by_channel``): [channel_id], outcome
    ('purchase' or 'drop_off'), path ('view>cart>purchase'), sessions, share (of the outcome's sessions),
    rank (1 = most common)."""
    if top < 1:
        raise QueryError("top must be at least 1")
    t = _path_steps(_steps(con, start=start, end=end, channels=channels))
    sess = ["channel_id", "visitor_key", "session"]
    kept = t.filter(t.step <= MAX_STEPS)
    per = kept.group_by(sess).aggregate(
        path=kept.event_type.group_concat(SEP, order_by=kept.step),
        bought=kept.bought.any(),
    )
    longer = t.filter(t.step == MAX_STEPS + 1).select(_c="channel_id", _v="visitor_key", _s="session", _more=True)
    per = per.left_join(
        longer, (per.channel_id == longer._c) & (per.visitor_key == longer._v) & (per.session == longer._s)
    )
    per = per.mutate(
        path=ibis.ifelse(per._more.notnull(), per.path + SEP + MORE, per.path),
        outcome=ibis.ifelse(per.bought, "purchase", "drop_off"),
    )
    keys = [*(["channel_id"] if by_channel else []), "outcome"]
    g = per.group_by([*keys, "path"]).aggregate(sessions=per.count())
    g = g.mutate(
        total=g.sessions.sum().over(ibis.window(group_by=[g[k] for k in keys])),
        rank=ibis.row_number().over(ibis.window(group_by=[g[k] for k in keys], order_by=[-g.sessions, g.path])) + 1,
    )
    df = g.filter(g["rank"] <= top).order_by([*keys, "rank"]).to_pandas()
    df["share"] = df["sessions"] / df["total"]
    return df[[*keys, "path", "sessions", "share", "rank"]].reset_index(drop=True)


def sankey_links(
    con: ibis.BaseBackend,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The links of the paths' Sankey: step (1..MAX_STEPS), source (event type at that step), target (event type
    at the next step, or 'exit' where a session without a purchase ends), sessions. A purchase ends a path."""
    t = _path_steps(_steps(con, start=start, end=end, channels=channels))
    t = t.filter((t.step < MAX_STEPS) & (t.event_type != "purchase"))
    t = t.mutate(target=t.next_type.fill_null(EXIT))
    return (
        t.group_by(["step", "event_type", "target"])
        .aggregate(sessions=t.count())
        .rename(source="event_type")
        .order_by(["step", "source", "target"])
        .to_pandas()
    )
