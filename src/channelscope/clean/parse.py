"""Typed parsing of text columns, as DuckDB SQL run in the engine (DESIGN rules 1 and 2).

Each builder takes a SQL expression of trimmed text (NULL when empty) and returns a SQL
expression of the typed value, NULL where the text cannot be read. The caller records a reason
when the text was present but the value came out NULL.
"""

from __future__ import annotations

import datetime as dt
import functools

#: Formats tried, in order, for timestamps with no declared format (platform exports).
TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H时%M分",
    "%Y.%m.%d %H:%M:%S",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日",
    "%Y.%m.%d",
    "%Y%m%d",
)
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d", "%Y%m%d")

#: Units of money columns and the divisor that turns them into the currency's main unit.
UNIT_DIVISOR = {"yuan": 1, "unit": 1, "fen": 100, "cents": 100, "thousandth": 1000}

_WS = r"[\s\x{00a0}\x{3000}\x{feff}]"


def lit(text: object) -> str:
    """A SQL literal for a Python value."""
    if text is None:
        return "NULL"
    if isinstance(text, bool):
        return "TRUE" if text else "FALSE"
    if isinstance(text, int | float):
        return repr(text)
    return "'" + str(text).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def clean_text(expr: str) -> str:
    """Trim spaces (also full-width and NBSP), Excel's ="..." guard and the apostrophe our exports put before
    formula-like text ('=1+2, see clean.formulas); empty becomes NULL."""
    unguarded = f"regexp_replace(regexp_replace({expr}, '^=\"(.*)\"$', '\\1'), '^''([=+@\t\r-])', '\\1')"
    trimmed = f"regexp_replace({unguarded}, '^{_WS}+|{_WS}+$', '', 'g')"
    # most cells need neither: one match test instead of two replacements (~40% less per column)
    clean = f"regexp_matches({expr}, '^{_WS}|{_WS}$|^=\"|^''[=+@\t\r-]')"
    return f"CASE WHEN {clean} THEN NULLIF({trimmed}, '') ELSE NULLIF({expr}, '') END"


def parse_decimal(text: str, scale: int = 2, divisor: int = 1) -> str:
    """An exact DECIMAL(18, scale) from text like '¥1,234.50', '1234', '(12.00)', '12.5元'."""
    stripped = f"regexp_replace({text}, '[,\\s¥￥$€£元]|RMB|CNY|USD|R\\$|BRL', '', 'g')"
    negative_paren = f"regexp_replace({stripped}, '^\\((.*)\\)$', '-\\1')"
    # text -> DECIMAL(18, s): casting text to wider decimals is ~200x slower in DuckDB; 18 digits hold
    # any amount. Units are applied by an exact decimal product, never a float division.
    wide = f"TRY_CAST({negative_paren} AS DECIMAL(18, {max(4, scale)}))"
    if divisor != 1:
        wide = f"(CAST({wide} AS DECIMAL(38, {max(4, scale)})) * CAST({1 / divisor!r} AS DECIMAL(9, 6)))"
    return f"TRY_CAST(round({wide}, {scale}) AS DECIMAL(18, {scale}))"


def parse_int(text: str) -> str:
    """A BIGINT from text; '3.0' is 3, '3.5' is unreadable."""
    dec = parse_decimal(text, 6)
    return f"CASE WHEN {dec} = floor({dec}) THEN TRY_CAST({dec} AS BIGINT) END"


def parse_bool(text: str) -> str:
    low = f"lower({text})"
    return (
        f"CASE WHEN {low} IN ('1','true','t','yes','y','是','对') THEN TRUE "
        f"WHEN {low} IN ('0','false','f','no','n','否','错') THEN FALSE END"
    )


def _strptime(text: str, formats: tuple[str, ...] | list[str]) -> str:
    fmts = "[" + ", ".join(lit(f) for f in formats) + "]"
    return f"try_strptime({text}, {fmts})"


def parse_timestamp_local(text: str, formats: tuple[str, ...] | list[str] | None) -> str:
    """A naive TIMESTAMP as written (local wall time); epoch and Excel serials are UTC/local."""
    if formats:
        return _strptime(text, list(formats))
    return (
        "COALESCE("
        f"TRY_CAST({text} AS TIMESTAMP), "
        f"{_strptime(text, TIMESTAMP_FORMATS)}, "
        f"CASE WHEN regexp_full_match({text}, '\\d{{5}}(\\.\\d+)?') "
        f"THEN TIMESTAMP '1899-12-30' + to_microseconds(TRY_CAST(round(TRY_CAST({text} AS DOUBLE) * 86400000000) AS BIGINT)) END)"
    )


@functools.cache
def fixed_offset_since(tz: str) -> tuple[dt.datetime, int] | None:
    """(local wall time from which ``tz`` keeps one UTC offset until 2100, offset in seconds), or
    None for a zone that still changes (summer time)."""
    from zoneinfo import ZoneInfo

    zone, day = ZoneInfo(tz), dt.timedelta(days=1)
    t = dt.datetime(2100, 1, 1)
    offset = t.replace(tzinfo=zone).utcoffset()
    while t.year > 1900 and (t - day).replace(tzinfo=zone).utcoffset() == offset:
        t -= day
    if offset is None or t.year >= 2090:
        return None
    return t + day, int(offset.total_seconds())  # a day of margin after the last change


def parse_timestamp_utc(text: str, tz: str, formats: tuple[str, ...] | list[str] | None) -> str:
    """A naive UTC TIMESTAMP from text in the source's time zone.

    Explicit offsets ('Z', '+08:00') win over the declared zone; 10- and 13-digit numbers are
    epoch seconds and milliseconds (always UTC). Cheap tests guard each regex, and a zone whose
    offset has been fixed for decades (Asia/Shanghai since 1991) is plain arithmetic, not ICU:
    about 30% less CPU per timestamp column (bench/ingest.py --experiments).
    """
    local = parse_timestamp_local(text, formats)
    zoned = f"timezone('UTC', timezone({lit(tz)}, {local}))"
    fixed = fixed_offset_since(tz)
    if fixed:
        since, offset = fixed
        zoned = (
            f"CASE WHEN {local} >= TIMESTAMP '{since:%Y-%m-%d}' THEN {local} - to_seconds({offset}) ELSE {zoned} END"
        )
    return (
        "CASE "
        f"WHEN {text} IS NULL THEN NULL "
        f"WHEN length({text}) IN (9, 10) AND regexp_full_match({text}, '\\d{{9,10}}') "
        f"THEN timezone('UTC', to_timestamp(TRY_CAST({text} AS BIGINT))) "
        f"WHEN length({text}) IN (12, 13) AND regexp_full_match({text}, '\\d{{12,13}}') "
        f"THEN timezone('UTC', to_timestamp(TRY_CAST({text} AS BIGINT) / 1000.0)) "
        f"WHEN (right({text}, 1) IN ('Z', 'z') OR contains(right({text}, 6), '+') "
        f"OR contains(right({text}, 6), '-')) AND regexp_matches({text}, "
        "'\\d[T ]\\d{1,2}:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*(Z|[+-](0\\d|1[0-4]):?[0-5]\\d)$') "
        f"THEN timezone('UTC', TRY_CAST(regexp_replace({text}, "
        "'\\s+([+-]\\d{2}:?\\d{2})$', '\\1') AS TIMESTAMPTZ)) "
        # an offset no zone has (+99:99): unreadable, not silently dropped by the local parse below
        f"WHEN (contains(right({text}, 6), '+') OR contains(right({text}, 6), '-')) AND regexp_matches({text}, "
        "'\\d[T ]\\d{1,2}:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*[+-]\\d{2}:?\\d{2}$') THEN NULL "
        f"ELSE {zoned} END"
    )


def within(value: str, earliest: str, latest: str) -> str:
    """``value`` (a TIMESTAMP or DATE expression) if it lies in [earliest, latest], else NULL: 'infinity',
    '-infinity', 'epoch' and year 5877641 read as timestamps but poison every query by grain."""
    return f"CASE WHEN {value} BETWEEN TIMESTAMP {lit(earliest)} AND TIMESTAMP {lit(latest)} THEN {value} END"


def parse_date(text: str, formats: tuple[str, ...] | list[str] | None) -> str:
    if formats:
        return f"CAST({_strptime(text, list(formats))} AS DATE)"
    return (
        "COALESCE("
        f"TRY_CAST({text} AS DATE), "
        f"CAST({_strptime(text, DATE_FORMATS)} AS DATE), "
        f"CAST(TRY_CAST({text} AS TIMESTAMP) AS DATE), "
        f"CASE WHEN regexp_full_match({text}, '\\d{{5}}(\\.0+)?') "
        f"THEN DATE '1899-12-30' + TRY_CAST(TRY_CAST({text} AS DOUBLE) AS INTEGER) END)"
    )


def map_values(text: str, mapping: dict[str, str | None], default: object = None) -> str:
    """Translate platform values to canonical ones; unknown values become the default (or NULL)."""
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in mapping.items())
    return f"CASE {text} {whens} ELSE {lit(default)} END"


def normalize_pii(text: str, kind: str) -> str:
    """Normalize a personal field before hashing, so one person gets one pseudonym."""
    if kind == "phone":
        digits = f"regexp_replace({text}, '[^0-9]', '', 'g')"
        return f"NULLIF(regexp_replace({digits}, '^(0086|86)(1\\d{{10}})$', '\\2'), '')"
    if kind == "email":
        return f"lower({text})"
    if kind in ("name", "address"):
        return f"lower(regexp_replace({text}, '\\s+', ' ', 'g'))"
    return text


def hmac_sha256(text: str, inner_pad: bytes, outer_pad: bytes) -> str:
    """HMAC-SHA256 in SQL: H(K^opad || H(K^ipad || m)), with the padded keys as constants."""
    ipad = "unhex(" + lit(inner_pad.hex()) + ")"
    opad = "unhex(" + lit(outer_pad.hex()) + ")"
    inner = f"unhex(sha256({ipad} || encode({text})))"
    return f"sha256({opad} || {inner})"
