"""The fast paths of the text cleaner and the timestamp parser give exactly the values of the plain
forms (two regex replacements; ICU time-zone conversion for every row)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from channelscope.clean import parse as P

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from ingest import EDGE_CASES

ZONES = ("Asia/Shanghai", "America/New_York", "America/Sao_Paulo", "UTC", "Asia/Kolkata", "Europe/London")


def _plain_clean(expr: str) -> str:
    unguarded = f"regexp_replace({expr}, '^=\"(.*)\"$', '\\1')"
    return f"NULLIF(regexp_replace({unguarded}, '^{P._WS}+|{P._WS}+$', '', 'g'), '')"


def _plain_utc(text: str, tz: str) -> str:
    local = P.parse_timestamp_local(text, None)
    return (
        f"CASE WHEN {text} IS NULL THEN NULL "
        f"WHEN regexp_full_match({text}, '\\d{{9,10}}') THEN timezone('UTC', to_timestamp(TRY_CAST({text} AS BIGINT))) "
        f"WHEN regexp_full_match({text}, '\\d{{12,13}}') THEN timezone('UTC', to_timestamp(TRY_CAST({text} AS BIGINT) / 1000.0)) "
        f"WHEN regexp_matches({text}, '\\d[T ]\\d{{1,2}}:\\d{{2}}(:\\d{{2}}(\\.\\d+)?)?\\s*(Z|[+-]\\d{{2}}:?\\d{{2}})$') "
        f"THEN timezone('UTC', TRY_CAST(regexp_replace({text}, '\\s+([+-]\\d{{2}}:?\\d{{2}})$', '\\1') AS TIMESTAMPTZ)) "
        f"ELSE timezone('UTC', timezone({P.lit(tz)}, {local})) END"
    )


@pytest.mark.parametrize("zone", ZONES)
def test_fast_forms_equal_the_plain_forms(zone: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (v VARCHAR)")
    extra = ["1990-07-01 12:00:00", "2016-02-20 23:30:00", "2019-11-03 00:30:00", "2030-01-01 00:00:00"]
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in [*EDGE_CASES, *extra]])
    fast_c, plain_c = P.clean_text("v"), _plain_clean("v")
    fast_t, plain_t = P.parse_timestamp_utc(fast_c, zone, None), _plain_utc(plain_c, zone)
    rows = con.execute(f"SELECT v, {fast_c}, {plain_c}, {fast_t}, {plain_t} FROM t").fetchall()
    assert len(rows) == len(EDGE_CASES) + len(extra)
    for v, fc, pc, ft, pt in rows:
        assert (fc, ft) == (pc, pt), v
