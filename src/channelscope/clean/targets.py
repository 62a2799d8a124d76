"""SQL that turns staged text rows into typed canonical rows of one target (parse, tag).

Layers: text (trim, merge, split) -> typed (parse, map, units, pseudonyms) -> computed
(``expr``) -> parse reasons. Tagging adds order ids, business dates, base-currency amounts,
campaigns and the reference flags the rules need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from channelscope.clean import parse as P
from channelscope.clean.pseudonymize import PseudonymKey
from channelscope.config import ChannelRule
from channelscope.errors import SourceError
from channelscope.model import TABLES, Table
from channelscope.sources.mapping import ColumnSpec, Target

_TYPE_OF = {
    "string": "string",
    "int64": "int",
    "int32": "int",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "bool",
}
_SQL_TYPE = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "decimal": "DECIMAL(18,8)",
    "money": "DECIMAL(18,2)",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "bool": "BOOLEAN",
    "code": "VARCHAR",
    "line_number": "INTEGER",
}


def canonical_type(table: Table, column: str) -> str:
    """The mapping type that fits a canonical column."""
    dtype = str(table.column(column).type)
    if dtype.startswith("decimal(18, 2)"):
        return "money"
    if dtype.startswith("decimal"):
        return "decimal"
    return _TYPE_OF.get(dtype.split("(")[0].rstrip("!"), "string")


@dataclass
class Context:
    """What a target's SQL needs to know besides its mapping."""

    raw: str  # staged table name
    raw_columns: list[str]
    file: str
    project_tz: str
    source_tz: str
    currency: str
    base_currency: str
    channel_id: str | None
    channel_rules: list[ChannelRule]
    key: PseudonymKey
    mapped_columns: set[str] = field(default_factory=set)
    #: plausible timestamps and dates (UTC text): outside them a value is unreadable, so its row is quarantined
    #: (cleaning.earliest_timestamp to now + cleaning.future_tolerance_hours)
    time_range: tuple[str, str] = ("2000-01-01 00:00:00", "2100-01-01 00:00:00")
    #: the same range in a reason's words (no load time in it, so the reasons of many rows and loads group)
    time_range_text: str = "2000-01-01 to 2100-01-01"


def _source_text(spec: ColumnSpec, ctx: Context, column: str) -> str:
    names = spec.from_ if isinstance(spec.from_, list) else [spec.from_]
    for n in names:
        if n not in ctx.raw_columns:
            raise SourceError(
                f"column '{n}' (mapped to '{column}') is not in the file; it has: " + ", ".join(ctx.raw_columns[:40]),
                file=ctx.file,
                field=n,
            )
    parts = [P.clean_text(P.ident(n)) for n in names if n]
    text = parts[0] if len(parts) == 1 else f"NULLIF(concat_ws({P.lit(spec.sep)}, {', '.join(parts)}), '')"
    if spec.split is not None:
        text = P.clean_text(f"split_part({text}, {P.lit(spec.split.sep)}, {spec.split.index + 1})")
    return text


def _typed(
    spec: ColumnSpec, kind: str, text: str, ctx: Context, line_partition: str | None, *, bounded: bool = True
) -> str:
    """The typed value of a text expression (NULL when unreadable); timestamps and dates outside the plausible
    range are NULL too, unless ``bounded`` is False (to tell the two apart in the reason)."""
    if kind == "line_number":
        part = f"PARTITION BY {line_partition}" if line_partition else ""
        return f"CAST(row_number() OVER ({part} ORDER BY _row) AS INTEGER)"
    if spec.pii:
        return ctx.key.sql(text, spec.pii)
    if spec.lower:
        text = f"lower({text})"
    if spec.upper:
        text = f"upper({text})"
    if spec.map is not None:
        text = P.map_values(text, spec.map, spec.default)
    if kind in ("string", "code"):
        return text
    if kind == "money":
        return P.parse_decimal(text, 2, P.UNIT_DIVISOR[spec.unit or "yuan"])
    if kind == "decimal":
        return P.parse_decimal(text, 8, P.UNIT_DIVISOR[spec.unit or "unit"])
    if kind == "int":
        return P.parse_int(text)
    if kind == "bool":
        return P.parse_bool(text)
    formats = [spec.format] if isinstance(spec.format, str) else spec.format
    if kind == "timestamp":
        value = P.parse_timestamp_utc(text, spec.tz or ctx.source_tz, formats)
        return P.within(value, *ctx.time_range) if bounded else value
    if kind == "date":
        value = P.parse_date(text, formats)
        return P.within(value, *ctx.time_range) if bounded else value
    raise AssertionError(kind)


def _const(value: object, kind: str) -> str:
    return f"CAST({P.lit(value)} AS {_SQL_TYPE[kind]})"


def _channel_sql(spec: ColumnSpec | None, ctx: Context) -> tuple[str | None, str, str]:
    """channel_id as (text expr over raw columns or None, rules expr over raw columns, typed expr
    over layer-1 columns): the mapped column wins, then the source's rules, then its constant."""
    fallback = P.lit(ctx.channel_id) if ctx.channel_id else "NULL"
    rules = []
    for rule in ctx.channel_rules:
        conds = []
        for col, val in rule.when.items():
            if col not in ctx.raw_columns:
                raise SourceError(
                    f"channel rule refers to column '{col}', which is not in the file", file=ctx.file, field=col
                )
            conds.append(f"lower({P.clean_text(P.ident(col))}) = lower({P.lit(val)})")
        rules.append(f"WHEN {' AND '.join(conds)} THEN {P.lit(rule.channel_id)}")
    ruled = f"CASE {' '.join(rules)} ELSE {fallback} END" if rules else fallback
    if spec is None or (spec.from_ is None and spec.const is None):
        return None, ruled, "_ruled_channel"
    if spec.const is not None:
        return None, ruled, P.lit(spec.const)
    names = spec.from_ if isinstance(spec.from_, list) else [spec.from_]
    if spec.optional and any(n not in ctx.raw_columns for n in names):
        return None, ruled, "_ruled_channel"
    text = _source_text(spec, ctx, "channel_id")
    mapped = P.map_values("_t_channel_id", spec.map, None) if spec.map else "lower(_t_channel_id)"
    return text, ruled, f"COALESCE({mapped}, _ruled_channel)"


def parse_select(target: Target, ctx: Context) -> str:
    """SELECT of one target: ``_row``, every canonical column typed, ``_parse_reasons``."""
    table = TABLES[target.table]
    lets = dict(target.let)
    specs = {**dict(target.columns), **lets}
    texts: dict[str, str] = {}
    texts_extra = ""
    typed: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for col, spec in specs.items():
        if col in ("order_id", "channel_id"):
            continue
        kind = spec.type or ("string" if col in lets else canonical_type(table, col))
        kinds[col] = kind
        if spec.from_ is not None:
            names = spec.from_ if isinstance(spec.from_, list) else [spec.from_]
            if spec.optional and any(n not in ctx.raw_columns for n in names):
                continue
            texts[col] = _source_text(spec, ctx, col)
    if "channel_id" in table.names:
        ch_text, ch_ruled, ch_typed = _channel_sql(specs.get("channel_id"), ctx)
        if ch_text:
            texts["channel_id"] = ch_text
        texts_extra = f", {ch_ruled} AS _ruled_channel"
        typed["channel_id"] = ch_typed
        kinds["channel_id"] = "code"
    line_partition = P.ident("_t_source_order_id") if "source_order_id" in texts else None
    for col, spec in specs.items():
        if col in typed or col == "order_id" or spec.expr is not None:
            continue
        kind = kinds[col]
        if spec.const is not None:
            typed[col] = _const(spec.const, kind)
        elif col in texts or kind == "line_number":
            typed[col] = _typed(spec, kind, P.ident(f"_t_{col}"), ctx, line_partition)
            if spec.default is not None and spec.map is None:
                typed[col] = f"COALESCE({typed[col]}, {_const(spec.default, kind)})"
        elif spec.default is not None:
            typed[col] = _const(spec.default, kind)
    if "currency" in table.names and "currency" not in typed:
        typed["currency"] = P.lit(ctx.currency)
        kinds["currency"] = "code"
    text_cols = ", ".join(f"{t} AS {P.ident('_t_' + c)}" for c, t in texts.items())
    extra = texts_extra if "channel_id" in table.names else ""
    layer1 = f"SELECT _row{', ' + text_cols if text_cols else ''}{extra} FROM {ctx.raw} WHERE _row NOT IN (SELECT _row FROM {ctx.raw}_dups)"
    t_cols = "".join(f", {P.ident('_t_' + c)}" for c in texts) + (", _ruled_channel" if extra else "")
    typed_cols = ", ".join(f"{sql} AS {P.ident(c)}" for c, sql in typed.items())
    layer2 = f"SELECT _row{t_cols}, {typed_cols} FROM ({layer1})"
    exprs = {c: s.expr for c, s in specs.items() if s.expr is not None}
    expr_cols = "".join(f", ({e}) AS {P.ident(c)}" for c, e in exprs.items())
    layer3 = f"SELECT *{expr_cols} FROM ({layer2})"
    reasons = []
    for col, kind in kinds.items():
        if col not in texts:
            continue
        spec = specs[col]
        if spec.map is not None and spec.default is None:
            known = ", ".join(list(spec.map)[:12])
            what = f"{col}: unknown value ''' || {P.ident('_t_' + col)} || ''' (known: {known.replace(chr(39), '')})"
        elif spec.pii:
            what = f"{col}: cannot read the personal field as {spec.pii}"
        else:
            what = f"{col}: cannot read ''' || left({P.ident('_t_' + col)}, 80) || ''' as {kind}"
            if kind in ("timestamp", "date") and spec.default is None:
                # read, but outside the plausible range: say so, with the range and where it is set
                unbounded = _typed(spec, kind, P.ident("_t_" + col), ctx, line_partition, bounded=False)
                outside = (
                    f"{col}: ''' || left({P.ident('_t_' + col)}, 80) || ''' is outside the plausible range "
                    f"{ctx.time_range_text.replace(chr(39), '')}"
                )
                what = f"' || CASE WHEN {unbounded} IS NULL THEN '{what}' ELSE '{outside}' END || '"
        reasons.append(f"CASE WHEN {P.ident('_t_' + col)} IS NOT NULL AND {P.ident(col)} IS NULL THEN '{what}' END")
    reason_list = f"list_filter([{', '.join(reasons)}]::VARCHAR[], r -> r IS NOT NULL)" if reasons else "[]::VARCHAR[]"
    canon = []
    for c in table.columns:
        if c.derived and c.name != "order_id":
            continue
        if c.name == "order_id":
            continue
        if c.name in typed or c.name in exprs:
            canon.append(f"CAST({P.ident(c.name)} AS {_sql_type(c)}) AS {P.ident(c.name)}")
        else:
            canon.append(f"CAST(NULL AS {_sql_type(c)}) AS {P.ident(c.name)}")
    if "order_id" in table.names:
        canon.insert(0, "channel_id || ':' || source_order_id AS order_id")
    # scratch columns ride along so a `when` can read them; the good rows keep canonical columns only
    canon += [P.ident(c) for c in lets if c in typed or c in exprs]
    return f"SELECT _row, {', '.join(canon)}, {reason_list} AS _parse_reasons FROM ({layer3})"


def _sql_type(c) -> str:
    dtype = str(c.type).rstrip("!")
    if dtype.startswith("decimal"):
        return dtype.upper().replace(" ", "")
    return {
        "string": "VARCHAR",
        "int64": "BIGINT",
        "int32": "INTEGER",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "boolean": "BOOLEAN",
        "float64": "DOUBLE",
    }[dtype]


def tag_select(source: str, table: Table, ctx: Context, *, has_campaigns: bool) -> str:
    """Add derived columns and the reference flags the rules read."""
    cols = ["s.*"]
    joins = []
    if table.business_time:
        bt = table.business_time
        if str(table.column(bt).type).startswith("date"):
            bdate = f"s.{bt}"
        else:
            bdate = f"CAST(timezone({P.lit(ctx.project_tz)}, timezone('UTC', s.{bt})) AS DATE)"
        if "business_date" in table.names:
            cols.append(f"{bdate} AS business_date")
    else:
        bdate = "current_date"
    for money, base in table.money_base.items():
        cols.append(
            f"CAST(CASE WHEN s.currency = {P.lit(ctx.base_currency)} THEN s.{money} "
            f"ELSE round(s.{money} * fx.rate_to_base, 2) END AS DECIMAL(18,2)) AS {base}"
        )
    if table.money_base:
        cols.append(
            f"(s.currency = {P.lit(ctx.base_currency)} OR s.currency IS NULL OR fx.rate_to_base IS NOT NULL) AS _fx_ok"
        )
        joins.append(
            "ASOF LEFT JOIN (SELECT currency AS fx_currency, date AS fx_date, rate_to_base FROM fx_rates) fx "
            "ON s.currency = fx.fx_currency AND s._fx_day >= fx.fx_date"
        )
    if "channel_id" in table.names:
        cols.append("s.channel_id IN (SELECT channel_id FROM channels) AS _ok_channel")
    if "distributor_id" in table.names and table.name != "distributors":
        cols.append("s.distributor_id IN (SELECT distributor_id FROM distributors) AS _ok_distributor")
    if table.name == "order_lines":
        cols.append("p.sku IS NOT NULL AS _ok_sku")
        cols.append("p.list_price AS _list_price")
        joins.append("LEFT JOIN products p ON p.sku = s.sku")
    # the day whose FX rate applies: the business date, or the load day for tables without one
    source = f"(SELECT *, CAST({bdate.replace('s.', '')} AS DATE) AS _fx_day FROM {source})"
    select = f"SELECT {', '.join(cols)} FROM {source} s {' '.join(joins)}"
    if table.name == "orders" and has_campaigns:
        # a campaign code in the export wins; else the campaign whose window and channel fit
        select = (
            "SELECT t.* REPLACE (COALESCE(code.campaign_id, t.campaign_id, win.campaign_id) AS campaign_id) "
            f"FROM ({select}) t "
            "LEFT JOIN (SELECT code, campaign_id FROM campaigns WHERE code IS NOT NULL) code ON code.code = t.campaign_id "
            "LEFT JOIN LATERAL (SELECT c.campaign_id FROM campaigns c WHERE t.campaign_id IS NULL "
            "AND t.ordered_at BETWEEN c.starts_at AND c.ends_at AND (c.channel_id = t.channel_id OR c.channel_id IS NULL) "
            "AND c.kind IN ('promotion', 'festival', 'live_session') ORDER BY c.starts_at DESC LIMIT 1) win ON TRUE"
        )
    return select
