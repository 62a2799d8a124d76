"""The metrics layer on Spark (local mode): every built-in KPI equals the same request on DuckDB.

The small demo brand is ingested into DuckDB, copied to Parquet and analysed on Spark through Ibis'
PySpark backend. Without pyspark or Java the tests skip, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.conftest import copy_demo

from channelscope import Project
from channelscope.errors import WarehouseError
from channelscope.metrics.definitions import Catalog, Measure
from channelscope.metrics.query import KpiRequest, _typed, kpi_frame
from channelscope.model import TABLES
from channelscope.warehouse.spark_backend import READ_ONLY, SparkWarehouse, spark_missing, spark_session

pytestmark = pytest.mark.spark

START, END = dt.date(2025, 1, 1), dt.date(2025, 6, 30)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole test session (starting the JVM costs seconds)."""
    why = spark_missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"Spark is required in CI: {why}")
        pytest.skip(f"Spark tests need pyspark and Java: {why}")
    session = spark_session("channelscope-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, demo_shop: Path) -> Iterator[Project]:
    """The small demo brand on DuckDB: a copy of the run's shared ingest (as tests/metrics/test_kpis.py uses)."""
    folder = copy_demo(demo_shop, tmp_path_factory.mktemp("spark") / "shop")
    p = Project(folder)
    yield p
    p.close()


@pytest.fixture(scope="module")
def spark_wh(spark: Any, project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkWarehouse]:
    wh = SparkWarehouse.from_warehouse(project.warehouse, tmp_path_factory.mktemp("parquet"), session=spark)
    yield wh
    wh.close()


def assert_same_kpis(catalog: Catalog, got: pd.DataFrame, want: pd.DataFrame, keys: list[str]) -> None:
    """Keys and integer counts exactly, money to the cent, ratios to 1e-9 (empty where DuckDB is)."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    for k in keys:
        assert got[k].tolist() == want[k].tolist(), k
    for name in [c for c in want.columns if c not in keys]:
        m = catalog.get(name)
        g, w = got[name], want[name]
        if isinstance(m, Measure) and _typed(m) == "int64":
            # counts are integers; a channel that does not provide the input is empty (float NaN), on both
            assert g.dtype == w.dtype and (w.dtype == np.dtype("int64") or w.isna().any()), name
            assert g.fillna(-1).tolist() == w.fillna(-1).tolist(), name
            continue
        gf, wf = g.to_numpy("float64", na_value=np.nan), w.to_numpy("float64", na_value=np.nan)
        assert (np.isnan(gf) == np.isnan(wf)).all(), f"{name}: empty in different rows"
        ok = ~np.isnan(wf)
        if m.unit == "money":
            assert np.abs(gf[ok] - wf[ok]).max(initial=0.0) < 0.005, name
        else:
            assert np.allclose(gf[ok], wf[ok], rtol=1e-9, atol=0.0), name


def test_every_builtin_kpi_on_spark_equals_duckdb(project: Project, spark_wh: SparkWarehouse) -> None:
    catalog = project.catalog
    names = tuple(catalog.metrics)
    req = KpiRequest(names, by=("channel",), grain="month", start=START, end=END)
    want = kpi_frame(project.warehouse, catalog, req)
    got = kpi_frame(spark_wh, catalog, req)
    assert len(want) == 6 * 6  # six channels x six months
    assert len(names) == 38
    assert_same_kpis(catalog, got, want, ["period", "channel"])


def test_joined_dimensions_filters_and_total_grain(project: Project, spark_wh: SparkWarehouse) -> None:
    """The joins the channel cut does not reach: products, calendar, channels, and a filter."""
    catalog = project.catalog
    for req, keys in (
        (KpiRequest(("units", "cogs"), by=("category",), start=START, end=END), ["category"]),
        (
            KpiRequest(
                ("gmv", "aov", "new_buyers", "returning_buyers", "visitors"),
                by=("channel_kind", "is_weekend"),
                grain="quarter",
                start=START,
                end=END,
                filters=(("channel", ("tmall", "jd", "douyin")),),
            ),
            ["period", "channel_kind", "is_weekend"],
        ),
    ):
        want = kpi_frame(project.warehouse, catalog, req)
        got = kpi_frame(spark_wh, catalog, req)
        assert len(want) > 1
        assert_same_kpis(catalog, got, want, keys)


def test_spark_holds_every_canonical_table_and_is_read_only(project: Project, spark_wh: SparkWarehouse) -> None:
    assert set(spark_wh.views) == set(TABLES)
    counts = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES)
    assert dict(spark_wh.execute(counts)) == dict(project.warehouse.execute(counts))
    latest = spark_wh.ibis.table("orders").business_date.max().execute()
    assert latest == project.warehouse.ibis.table("orders").business_date.max().execute()
    assert spark_wh.loaded_fingerprints("nosuch") == set()
    for write in (
        lambda: spark_wh.execute("DELETE FROM orders"),
        lambda: spark_wh.execute("INSERT INTO channels SELECT * FROM channels"),
        spark_wh.staging,
        spark_wh.ensure_schema,
        lambda: spark_wh.replace_rows("calendar", None, "x"),  # type: ignore[arg-type]
    ):
        with pytest.raises(WarehouseError, match="read-only") as err:
            write()
        assert str(err.value) == READ_ONLY


def test_missing_spark_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from channelscope.warehouse import spark_backend

    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert "has no bin/java" in (spark_backend.java_missing() or "")
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "no Java runtime" in (spark_backend.java_missing() or "")
