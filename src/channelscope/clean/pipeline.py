"""One batch through the clean path: stage -> parse -> tag -> validate -> dedupe -> split.

Everything runs as SQL in DuckDB; Python only builds statements and reads counts. The result is a
set of staged temp tables (good rows per canonical table, quarantined rows) and the counts that
the ledger keeps: rows_in = loaded + quarantined + duplicates.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import ibis

from channelscope.clean import parse as P
from channelscope.clean.pseudonymize import PSEUDONYM_MARK
from channelscope.clean.rules import row_reasons, schema_for
from channelscope.clean.targets import Context, parse_select, tag_select
from channelscope.config import CleaningConfig
from channelscope.errors import ValidationError
from channelscope.model import TABLES
from channelscope.sources.mapping import Mapping
from channelscope.warehouse.base import BatchResult, GoodTable

_MASK = r"[0-9]{7,}|[^\s,;\"']+@[^\s,;\"']+"


def _ids(cols: list[str]) -> str:
    return ", ".join(P.ident(c) for c in cols)


def mark_repeats(con: duckdb.DuckDBPyConnection, raw: str, columns: list[str]) -> int:
    """Record exact repeats of an earlier row of the same file in ``<raw>_dups``; return how many."""
    part = _ids(columns) if columns else "1"
    # rows with every field empty are not repeats of each other: they are quarantined with reasons
    blank = f"coalesce({', '.join(P.clean_text(P.ident(c)) for c in columns)}) IS NULL" if columns else "FALSE"
    # a small table of the repeats' row numbers, rather than a second copy of the raw rows
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {raw}_dups AS SELECT _row FROM (SELECT _row, {blank} AS _blank, "
        f"row_number() OVER (PARTITION BY {part} ORDER BY _row) AS _n FROM {raw}) WHERE _n > 1 AND NOT _blank"
    )
    return int(con.execute(f"SELECT count(*) FROM {raw}_dups").fetchone()[0])  # type: ignore[index]


def _hash_sql(table: str) -> str:
    cols = [c.name for c in TABLES[table].columns if c.name not in ("batch_id", "record_hash")]
    parts = ", ".join(f"coalesce(CAST({P.ident(c)} AS VARCHAR), '\\N')" for c in cols)
    return f"md5(concat_ws(chr(31), {parts}))"


def run_batch(
    con: duckdb.DuckDBPyConnection,
    result: BatchResult,
    mapping: Mapping,
    ctx: Context,
    cleaning: CleaningConfig,
    rejects: list[tuple[int, str, str]],
    *,
    pii_columns: dict[str, str],
    fx_gap_fails: bool = True,
) -> tuple[list[GoodTable], str | None]:
    """Clean a staged file; fill ``result``'s in-batch counts; return tables to merge.

    ``fx_gap_fails``: a missing FX rate fails the file with one error (exports); when False (live
    event micro-batches, which must not stall) the rows are quarantined with the reason instead."""
    b = ctx.raw
    backend = ibis.duckdb.from_connection(con)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=cleaning.future_tolerance_hours)
    has_campaigns = bool(con.execute("SELECT count(*) FROM campaigns").fetchone()[0])  # type: ignore[index]
    staged_rows = int(con.execute(f"SELECT count(*) FROM {b}").fetchone()[0])  # type: ignore[index]
    repeats = mark_repeats(con, b, ctx.raw_columns)
    result.rows_in = staged_rows + len(rejects)

    targets = mapping.targets()
    reason_parts: list[str] = []
    validated: list[tuple[str, bool, str, bool]] = []  # (table, counts input rows, temp, collapse)
    taken: list[str] = []  # valid tables of `accounts` targets: the rows they take are theirs
    for i, target in enumerate(targets):
        table = TABLES[target.table]
        parsed = f"{b}_p{i}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {parsed} AS {parse_select(target, ctx)}")
        source = parsed
        if target.collapse:
            source = _collapse(
                con,
                parsed,
                table.key,
                [c.name for c in table.columns if not c.derived or c.name == "order_id"],
                f"{b}_c{i}",
                {c: spec.aggregate for c, spec in target.columns.items() if spec.aggregate},
            )
        tagged = f"{b}_t{i}"
        when = f"coalesce(({target.when}), FALSE)" if target.when else "TRUE"
        if target.accounts:
            # a row the primary table takes is never counted twice
            when = f"({when} AND _row NOT IN (SELECT _row FROM {b}_v0 WHERE _when))"
        # a view: parse, tag and validate are materialized once, in the validated table
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {tagged} AS SELECT *, {when} AS _when "
            f"FROM ({tag_select(source, table, ctx, has_campaigns=has_campaigns)})"
        )
        valid = f"{b}_v{i}"
        sql = _validation_sql(backend, con, tagged, target.table, cleaning, now)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {valid} AS {sql}")
        if table.money_base and fx_gap_fails:
            _stop_without_fx(con, valid, target.table, ctx)
        validated.append((target.table, i == 0 or target.accounts, valid, target.collapse))
        if target.accounts:
            taken.append(valid)
        rows_expr = "unnest(_rows)" if target.collapse else "_row"
        reason_parts.append(f"SELECT {rows_expr} AS _row, _reasons, {i} AS _t FROM {valid} WHERE len(_reasons) > 0")
    if targets[0].when or taken:
        others = "".join(f" AND _row NOT IN (SELECT _row FROM {t} WHERE _when)" for t in taken)
        text = (targets[0].when or "").replace(chr(39), "")
        reason_parts.append(
            f"SELECT _row, ['row left out by the mapping''s when: {text}'], {len(targets)} FROM {b}_v0 "
            f"WHERE NOT _when{others}"
        )
    row_reasons_table = f"{b}_reasons"
    con.execute(
        # reasons in the order of the mapping's tables, the same on every run
        f"CREATE OR REPLACE TEMP TABLE {row_reasons_table} AS SELECT _row, flatten(list(_reasons ORDER BY _t)) AS reasons "
        f"FROM ({' UNION ALL '.join(reason_parts)}) GROUP BY _row HAVING len(flatten(list(_reasons))) > 0"
    )
    for table_name, _, valid, collapse in validated:
        if collapse:
            _quarantine_whole_groups(con, valid, row_reasons_table, TABLES[table_name].key)
    quarantine = _quarantine(con, result, b, row_reasons_table, ctx, pii_columns, rejects, validated[0])
    result.quarantined = int(con.execute(f"SELECT count(*) FROM {quarantine}").fetchone()[0])  # type: ignore[index]

    goods: list[GoodTable] = []
    superseded = 0
    for table_name, primary, valid, collapse in validated:
        table = TABLES[table_name]
        good = f"{b}_g_{table_name}"
        # semi-joins, not a list of every quarantined row per group: linear in the rows rejected
        rows = (
            f"_row IN (SELECT grp FROM ({_bad_groups(valid, row_reasons_table)}))"
            if collapse
            else f"_row IN (SELECT _row FROM {row_reasons_table})"
        )
        order = f"{table.updated_at} DESC NULLS LAST, " if table.updated_at else ""
        first_row = "_rows[1]" if collapse else "_row"
        keys = ", ".join(table.key)
        cols = ", ".join(c.name for c in table.columns if c.name not in ("batch_id", "record_hash"))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {good} AS SELECT {first_row} AS _row, {cols}, "
            f"{P.lit(result.batch_id)} AS batch_id, {_hash_sql(table_name)} AS record_hash, "
            f"row_number() OVER (PARTITION BY {keys} ORDER BY {order}{first_row} DESC) AS _rank "
            f"FROM {valid} WHERE _when AND NOT ({rows})"
        )
        dropped = int(con.execute(f"SELECT count(*) FROM {good} WHERE _rank > 1").fetchone()[0])  # type: ignore[index]
        con.execute(f"DELETE FROM {good} WHERE _rank > 1")
        if primary:
            superseded += dropped
        goods.append(GoodTable(table_name, good, primary))
    result.duplicates = repeats + superseded
    result.details["in_file"] = {"exact_repeats": repeats, "superseded": superseded, "malformed_lines": len(rejects)}
    return goods, quarantine


def _stop_without_fx(con: duckdb.DuckDBPyConnection, valid: str, table: str, ctx: Context) -> None:
    """A missing FX rate is the project's gap, not the rows' fault: the file fails as a whole with
    one error naming the currency, the business dates that need a rate and the fix."""
    gaps = con.execute(
        f"SELECT currency, min(_fx_day), max(_fx_day), count(*) FROM {valid} WHERE _when AND NOT _fx_ok "
        "GROUP BY currency ORDER BY currency"
    ).fetchall()
    if not gaps:
        return
    parts = [
        f"{cur} on or before {first} ({n:,} rows of {table} dated {first} to {last})" for cur, first, last, n in gaps
    ]
    cur, first = gaps[0][0], gaps[0][1]
    raise ValidationError(
        f"no FX rate to {ctx.base_currency} for " + "; ".join(parts),
        file=ctx.file,
        field="currency",
        hint=f"load rates into fx_rates with a source of preset canonical_fx_rates (columns date,currency,"
        f"rate_to_base), e.g. a row '{first},{cur},<rate>', then ingest again; each amount converts at the "
        "latest rate on or before its business date",
    )


def _quarantine_whole_groups(con: duckdb.DuckDBPyConnection, valid: str, reasons: str, key: tuple[str, ...]) -> None:
    """An order of a line-level export loads whole or not at all: when one of its rows is
    quarantined, its other rows are too, with a reason naming the row."""
    what = "/".join(key)
    con.execute(
        f"INSERT INTO {reasons} SELECT u.r, ['another row of the same {what} was quarantined (row ' || u.bad || ')'] "
        f"FROM (SELECT unnest(v._rows) AS r, b.bad FROM {valid} v JOIN ({_bad_groups(valid, reasons)}) b "
        f"ON b.grp = v._row) u WHERE u.r NOT IN (SELECT _row FROM {reasons})"
    )


def _bad_groups(valid: str, reasons: str) -> str:
    """SELECT of the collapsed groups (``grp``: their first row) holding a quarantined row, and the
    first such row (``bad``): a hash join of unnested rows, linear in the rows."""
    return (
        f"SELECT v._row AS grp, min(v.r) AS bad FROM (SELECT _row, unnest(_rows) AS r FROM {valid}) v "
        f"JOIN {reasons} q ON q._row = v.r GROUP BY v._row"
    )


_PLACEHOLDER = "__channelscope_tagged__"
_VALIDATION_CACHE: dict[tuple, str] = {}


def _validation_sql(
    backend: ibis.BaseBackend,
    con: duckdb.DuckDBPyConnection,
    tagged: str,
    table: str,
    cleaning: CleaningConfig,
    now: dt.datetime,
) -> str:
    """SELECT adding ``_reasons`` (parse reasons + every rule the row breaks) to a tagged table.

    Compiling the pandera rules through Ibis costs ~0.1 s; files of one layout share the SQL,
    so it is compiled once per table shape and hour.
    """
    shape = tuple(con.execute(f"DESCRIBE {tagged}").fetchall())
    key = (table, shape, cleaning.model_dump_json(), now.replace(minute=0, second=0, microsecond=0))
    if key not in _VALIDATION_CACHE:
        t = backend.table(tagged)
        rules = ibis.to_sql(t.mutate(_rule_reasons=row_reasons(t, schema_for(table, cleaning, now))), dialect="duckdb")
        # Ibis' array concat guards NULLs by evaluating both lists twice; the rule list is built
        # once here and joined to the parse reasons in one pass over the rows
        _VALIDATION_CACHE[key] = (
            "SELECT * EXCLUDE (_rule_reasons), CASE WHEN _when THEN list_concat(_parse_reasons, _rule_reasons) "
            f"ELSE []::VARCHAR[] END AS _reasons FROM ({rules})"
        ).replace(tagged, _PLACEHOLDER)
    return _VALIDATION_CACHE[key].replace(_PLACEHOLDER, tagged)


def _collapse(
    con: duckdb.DuckDBPyConnection,
    parsed: str,
    key: tuple[str, ...],
    cols: list[str],
    out: str,
    aggregates: dict[str, str] | None = None,
) -> str:
    """One row per key from a line-level export: per column the first non-empty value, or the
    mapping's ``aggregate`` over the key's rows (a sum of line amounts is an order total)."""
    keys = ", ".join(key)
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {parsed}").fetchall()}
    folds = aggregates or {}

    def fold(c: str) -> str:
        col, how = P.ident(c), folds.get(c, "first")
        sql = {
            "first": f"first({col} ORDER BY _row) FILTER (WHERE {col} IS NOT NULL)",
            "last": f"last({col} ORDER BY _row) FILTER (WHERE {col} IS NOT NULL)",
            "sum": f"sum({col})",
            "min": f"min({col})",
            "max": f"max({col})",
            "count": f"count({col})",
            "count_distinct": f"count(DISTINCT {col})",
        }[how]
        return f"CAST({sql} AS {types[c]}) AS {col}"

    firsts = ", ".join(fold(c) for c in cols if c not in key)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT {keys}, {firsts}, list(_row ORDER BY _row) AS _rows, "
        f"min(_row) AS _row, flatten(list(_parse_reasons)) AS _parse_reasons FROM {parsed} GROUP BY {keys}"
    )
    return out


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    result: BatchResult,
    raw: str,
    reasons: str,
    ctx: Context,
    pii: dict[str, str],
    rejects: list[tuple[int, str, str]],
    primary: tuple[str, bool, str, bool],
) -> str:
    """Quarantined rows with the input record (personal fields pseudonymized) and every reason."""
    out = f"{raw}_q"
    mapped = [c for c in ctx.raw_columns if c in pii or c in _mapped_columns(ctx)]
    pairs = []
    for c in mapped:
        # marked, so a fixed export re-ingests to the same pseudonym instead of hashing it again
        value = (
            f"'{PSEUDONYM_MARK}' || {ctx.key.sql(P.clean_text(f'r.{P.ident(c)}'), pii[c])}"
            if c in pii
            else f"r.{P.ident(c)}"
        )
        pairs.append(f"{P.lit(c)}, {value}")
    record = f"json_object({', '.join(pairs)})" if pairs else "'{}'"
    table_name, _, valid, collapse = primary
    key_col = "source_order_id" if "source_order_id" in TABLES[table_name].names else TABLES[table_name].key[0]
    key_join = "" if collapse else f"LEFT JOIN {valid} v ON v._row = q._row"
    key_expr = "NULL" if collapse else f"CAST(v.{P.ident(key_col)} AS VARCHAR)"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT {P.lit(result.batch_id)} AS batch_id, "
        f"{P.lit(result.source)} AS source, {P.lit(result.file)} AS file, {P.lit(table_name)} AS table_name, "
        f"CAST(q._row AS BIGINT) AS row_number, {key_expr} AS source_key, CAST({record} AS VARCHAR) AS record, "
        f"CAST(to_json(q.reasons) AS VARCHAR) AS reasons, CAST(NULL AS VARCHAR) AS resolved_batch_id "
        f"FROM {reasons} q JOIN {raw} r ON r._row = q._row {key_join}"
    )
    if rejects:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {raw}_rejects (line BIGINT, text VARCHAR, error VARCHAR)")
        con.executemany(f"INSERT INTO {raw}_rejects VALUES (?, ?, ?)", rejects)
        con.execute(
            f"INSERT INTO {out} SELECT {P.lit(result.batch_id)}, {P.lit(result.source)}, {P.lit(result.file)}, "
            f"{P.lit(table_name)}, -line, NULL, "
            f"CAST(json_object('line', line, 'text', regexp_replace(text, {P.lit(_MASK)}, '<masked>', 'g')) AS VARCHAR), "
            f"CAST(to_json(['malformed line ' || line || ': ' || error]) AS VARCHAR), NULL FROM {raw}_rejects"
        )
    return out


def _mapped_columns(ctx: Context) -> set[str]:
    return ctx.mapped_columns
