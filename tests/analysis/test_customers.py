"""Customer analytics against independent computations: the published CDNOW fits, and cohort, repurchase,
RFM and cross-channel tables against pandas on the CDNOW file and on the demo, on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.analysis import customer_reference as ref
from tests.conftest import backend_url, demo_project, shared_data

from channelscope import Project
from channelscope.analysis import clv as C
from channelscope.analysis.cohorts import GAP_EDGES
from channelscope.analysis.rfm import NEW, SEGMENT_CODES
from channelscope.errors import QueryError

CDNOW_CONFIG = """
project: {name: cdnow, base_currency: USD, timezone: America/New_York, locale: en}
calendar: {first_date: 1997-01-01, last_date: 1998-12-31}
channels:
  - {id: cdnow, name: CDNOW, kind: own_store, platform: cdnow, currency: USD, timezone: America/New_York}
"""
WINDOWS = (30, 60, 90, 180)


def _sig3(value: float) -> float:
    return float(f"{value:.3g}")


# ---- the published CDNOW fits (no warehouse) ---------------------------------------------------


def test_bgnbd_reproduces_the_published_cdnow_fit() -> None:
    s = pd.read_csv(shared_data("cdnow", "cdnow_customers_summary.csv"))
    assert len(s) == 2357
    fit = C.fit_bgnbd(s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy())
    assert fit.ok, fit.reason
    got = {k: _sig3(v) for k, v in fit.params.items()}
    assert got == {"r": 0.243, "alpha": 4.41, "a": 0.793, "b": 2.43}
    assert round(fit.params["alpha"], 3) == 4.414 and round(fit.params["b"], 3) == 2.426
    assert fit.log_likelihood is not None and round(fit.log_likelihood, 2) == -9582.43


def test_gamma_gamma_reproduces_the_published_cdnow_fit() -> None:
    s = pd.read_csv(shared_data("cdnow", "cdnow_customers_summary_with_transactions.csv"))
    fit = C.fit_gamma_gamma(s["x"].to_numpy(), s["zbar"].to_numpy())
    assert fit.ok and fit.n == 946
    assert {k: _sig3(v) for k, v in fit.params.items()} == {"p": 6.25, "q": 3.74, "v": 15.4}
    assert abs(fit.params["v"] - 15.44) < 0.01  # 15.448: the paper rounds down


def test_bgnbd_predictions_match_their_closed_forms() -> None:
    s = pd.read_csv(shared_data("cdnow", "cdnow_customers_summary.csv"))
    fit = C.fit_bgnbd(s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy())
    x, t_x, T = np.array([0, 2, 7]), np.array([0.0, 30.43, 35.0]), np.array([38.86, 38.86, 38.86])
    alive = C.bgnbd_p_alive(fit.params, x, t_x, T)
    assert alive[0] == 1.0 and 0 < alive[1] < 1
    # the expectation over 0 weeks is 0, and grows with the horizon
    assert np.allclose(C.bgnbd_expected(fit.params, 1e-9, x, t_x, T), 0, atol=1e-6)
    e39, e78 = C.bgnbd_expected(fit.params, 39, x, t_x, T), C.bgnbd_expected(fit.params, 78, x, t_x, T)
    assert (e78 > e39).all()
    # against the sample's own holdout (weeks 40-78, 1997-10-01 .. 1998-06-30): 1,653 predicted purchase days
    # vs 1,882 actual; the paper's tracking plot shows the same under-prediction of the holdout
    raw = pd.read_csv(shared_data("cdnow", "CDNOW_sample.txt"), sep=r"\s+", header=None, dtype=str)
    day = pd.to_datetime(raw[2], format="%Y%m%d")
    actual = len(raw[(day > "1997-09-30") & (day <= "1998-06-30")].assign(day=day)[[0, "day"]].drop_duplicates())
    total = C.bgnbd_expected(fit.params, 39, s["frequency"], s["recency"], s["T"]).sum()
    assert actual == 1882 and abs(total / actual - 1) < 0.15, (total, actual)


def test_fits_say_why_the_data_does_not_identify_them() -> None:
    empty = C.fit_bgnbd(np.array([]), np.array([]), np.array([]))
    assert not empty.ok and "no customers" in (empty.reason or "")
    once = C.fit_bgnbd(np.zeros(500), np.zeros(500), np.full(500, 20.0))
    assert not once.ok and "not identifiable: only 0 of 500" in (once.reason or "")
    few = C.fit_gamma_gamma(np.array([1, 2]), np.array([10.0, 12.0]))
    assert not few.ok and "only 2 repeat buyers" in (few.reason or "")


def test_olist_gives_a_clear_answer() -> None:
    """Olist: almost every customer buys once; the fit says so (or fits), it never errors."""
    folder = shared_data("olist-excerpt")
    orders = pd.read_csv(folder / "olist_orders_dataset.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    custs = pd.read_csv(folder / "olistcustomerdataset.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    orders = orders[orders["order_id"].str.strip() != ""]
    o = orders.merge(custs[["customer_id", "customer_unique_id"]], on="customer_id")
    o["day"] = pd.to_datetime(o["order_purchase_timestamp"], format="%m/%d/%Y %H:%M").dt.normalize()
    days = o[["customer_unique_id", "day"]].drop_duplicates()
    g = days.groupby("customer_unique_id")["day"]
    end = days["day"].max()
    x = (g.size() - 1).to_numpy()
    t_x = ((g.max() - g.min()).dt.days / 7).to_numpy()
    T = ((end - g.min()).dt.days / 7).to_numpy()
    assert len(x) > 500 and (x > 0).mean() < 0.02
    fit = C.fit_bgnbd(x, t_x, T)
    assert fit.ok or (fit.reason or "").startswith("not identifiable")


def test_an_empty_warehouse_gives_reasons_not_errors(tmp_path: Path) -> None:
    from tests.conftest import write_project

    folder = write_project(
        tmp_path / "empty", "channels:\n  - {id: shop, name: Shop, kind: own_store, platform: shopify}\n"
    )
    with Project(folder) as p:
        c = p.analysis.customers
        r = c.clv(calibration_end="2025-01-31", holdout_end="2025-06-30")
        assert not r.bgnbd.ok and r.reason == "no customers in the calibration period"
        assert c.clv_cac(r)["reason"].iloc[0] == r.reason
        assert c.rfm(as_of="2025-06-30")["customers"].sum() == 0
        assert c.cohorts().empty
        with pytest.raises(QueryError, match="a migration needs start < end"):
            c.migration("2025-06-30", "2025-01-01")
        with pytest.raises(QueryError, match="unknown cohort grain"):
            c.cohorts(grain="day")


# ---- CDNOW through the preset, against pandas on the file --------------------------------------


@pytest.fixture(scope="module")
def cdnow(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Project, str]]:
    """CDNOW_master.txt ingested through the cdnow_transactions preset, once per backend, and its key."""
    path = shared_data("cdnow", "CDNOW_master.txt").resolve()
    folder = tmp_path_factory.mktemp("cdnow") / "p"
    (folder / "secrets").mkdir(parents=True)
    key = secrets.token_hex(32)
    (folder / "secrets" / "pseudonym.key").write_text(key + "\n")
    with backend_url(request, backend) as url:
        source = f"{{name: cdnow, path: '{path}', preset: cdnow_transactions, channel_id: cdnow}}"
        (folder / "channelscope.yaml").write_text(
            CDNOW_CONFIG + f"warehouse: {{url: '{url}'}}\nsources:\n  - {source}\n", encoding="utf-8"
        )
        p = Project(folder)
        p.ingest()
        yield p, key
        p.close()


def _cdnow_orders(key: str) -> pd.DataFrame:
    """The file's transactions as paid orders (exact repeats dropped, as the clean step does)."""
    raw = pd.read_csv(shared_data("cdnow", "CDNOW_master.txt"), sep=r"\s+", dtype=str)
    raw = raw.drop_duplicates(subset=["customer_id", "date", "number_of_cds", "dollar_value"])
    pseud = {
        c: hmac.new(key.encode(), c.encode(), hashlib.sha256).hexdigest()[:32] for c in raw["customer_id"].unique()
    }
    day = pd.to_datetime(raw["date"], format="%Y%m%d")
    n = raw.groupby(["customer_id", "date"]).cumcount() + 1
    keys = raw["customer_id"].map(pseud)
    return pd.DataFrame(
        {
            "customer_key": keys,
            "channel_id": "cdnow",
            "distributor_id": None,
            "campaign_id": None,
            "ordered_at": day,
            "order_id": "cdnow:" + keys + "-" + raw["date"] + "-" + n.astype(str),
            "day": day,
            "cents": raw["dollar_value"].map(lambda v: int(Decimal(v) * 100)),
        }
    )


def _cents(values: pd.Series) -> pd.Series:
    return (values.astype("float64") * 100).round().astype("int64")


def _check_cohorts(got: pd.DataFrame, want: pd.DataFrame, by: list[str]) -> None:
    got = got.assign(cents=_cents(got["revenue"])).set_index(["cohort", *by, "period"]).sort_index()
    want = want.set_index(["cohort", *by, "period"]).sort_index()
    assert len(got) == len(want)
    for col in ("customers", "orders", "cents"):
        assert got[col].astype("int64").tolist() == want[col].astype("int64").tolist(), col
    sizes = want.xs(0, level="period")["customers"]
    assert got.xs(0, level="period")["cohort_size"].astype("int64").tolist() == sizes.tolist()
    assert (got.xs(0, level="period")["retention"] == 1.0).all()


def test_cdnow_tables_equal_pandas(cdnow: tuple[Project, str], subtests: pytest.Subtests) -> None:
    p, key = cdnow
    orders = _cdnow_orders(key)
    c = p.analysis.customers
    as_of = dt.date(1998, 6, 30)
    with subtests.test("the frame: one row per customer, first and second purchase days, value"):
        from channelscope.metrics.customers import customer_frame

        got = customer_frame(p.warehouse.ibis).to_pandas().set_index("customer_key").sort_index()
        want = ref.frame(orders).sort_index()
        assert len(got) == len(want) == 23_570
        assert (pd.to_datetime(got["first_day"]) == want["first_day"]).all()
        assert (
            pd.to_datetime(got["second_day"]).fillna(pd.Timestamp(0)) == want["second_day"].fillna(pd.Timestamp(0))
        ).all()
        assert got["orders"].astype("int64").tolist() == want["orders"].tolist()
        assert _cents(got["value"]).tolist() == want["cents"].tolist()
    for grain in ("month", "week"):
        with subtests.test(f"cohorts by {grain}"):
            _check_cohorts(c.cohorts(grain=grain), ref.cohorts(orders, grain), [])
    with subtests.test("repurchase within 30/60/90/180 days"):
        got = c.repurchase(as_of=as_of).set_index("acquisition_channel")
        want = ref.repurchase(orders, as_of, WINDOWS)
        for col in want.columns:
            assert got[col].astype("int64").tolist() == want[col].tolist(), col
        assert got.loc["cdnow", "rate_90d"] == want.loc["cdnow", "repurchase_90d"] / want.loc["cdnow", "eligible_90d"]
    with subtests.test("days between purchase days"):
        got = c.days_between(by=None)
        want = ref.gaps(orders, GAP_EDGES)
        assert got["gaps"].tolist() == want.tolist()
        assert got["from_days"].tolist() == list(GAP_EDGES)
    for day in (dt.date(1997, 6, 30), dt.date(1997, 12, 31)):
        with subtests.test(f"RFM segments as of {day}"):
            got = c.rfm(as_of=day).set_index("segment")
            want = ref.rfm(orders, day)
            counts = want["segment"].value_counts()
            assert got["customers"].to_dict() == {s: int(counts.get(s, 0)) for s in SEGMENT_CODES}
            money = want.groupby("segment")["monetary"].sum()
            for s in SEGMENT_CODES:
                assert round(got.loc[s, "monetary"], 2) == round(float(money.get(s, 0.0)), 2)
    with subtests.test("migration between two dates"):
        a, b = dt.date(1997, 2, 28), dt.date(1997, 12, 31)
        m = c.migration(a, b)
        ra, rb = ref.rfm(orders, a), ref.rfm(orders, b)
        assert int(m.to_numpy().sum()) == len(rb)
        assert int(m.drop(index=NEW).to_numpy().sum()) == len(ra)
        assert int(m.loc[NEW].sum()) == len(rb) - len(ra)
        joined = rb[["segment"]].join(ra[["segment"]].rename(columns={"segment": "from"}), how="left")
        joined["from"] = joined["from"].fillna(NEW)
        want = pd.crosstab(joined["from"], joined["segment"])
        for f in want.index:
            for t in want.columns:
                assert m.loc[f, t] == want.loc[f, t], (f, t)
    with subtests.test("segment export: pseudonymous keys of the segment"):
        out = p.folder / "export" / "important_value.csv"
        n = c.export_segment(out, segments=["important_value"], as_of=dt.date(1997, 12, 31))
        csv = pd.read_csv(out, dtype={"customer_key": str})
        want = ref.rfm(orders, dt.date(1997, 12, 31))
        assert n == len(csv) == int((want["segment"] == "important_value").sum())
        assert set(csv["customer_key"]) == set(want.index[want["segment"] == "important_value"])
        assert not csv["customer_key"].str.fullmatch(r"\d{5}").any()  # no raw CDNOW id leaves
    with subtests.test("CLV on the 39-week calibration of the ingested file"):
        r = c.clv(calibration_end=dt.date(1997, 9, 30), holdout_end=dt.date(1998, 6, 30))
        assert r.bgnbd.ok and r.gamma_gamma.ok, r.reason
        assert r.holdout is not None and int(r.holdout["customers"].sum()) == 23_570
        hold = orders[(orders["day"] > "1997-09-30") & (orders["day"] <= "1998-06-30")]
        act = len(hold[["customer_key", "day"]].drop_duplicates())
        assert r.holdout["actual"].sum() == act == 19_684
        # 16,874 predicted: the model under-predicts CDNOW's second year by 14% (12% on the published sample)
        assert abs(r.holdout["predicted"].sum() / act - 1) < 0.15


# ---- the demo: several channels, distributors, campaigns ---------------------------------------


@pytest.fixture(scope="module")
def demo(request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with demo_project(request, backend, tmp_path_factory.mktemp("cust") / "shop") as folder:
        p = Project(folder)
        yield p
        p.close()


def _demo_orders(p: Project) -> pd.DataFrame:
    """The paid orders with a customer, as plain rows from the warehouse (no channelscope logic)."""
    rows = p.warehouse.execute(
        "SELECT customer_key, channel_id, distributor_id, campaign_id, ordered_at, order_id, business_date, "
        "CAST(round(net_amount_base * 100) AS BIGINT) FROM orders "
        "WHERE (paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded')) AND customer_key IS NOT NULL"
    )
    df = pd.DataFrame(
        rows,
        columns=[
            "customer_key",
            "channel_id",
            "distributor_id",
            "campaign_id",
            "ordered_at",
            "order_id",
            "day",
            "cents",
        ],
    )
    df["day"] = pd.to_datetime(df["day"])
    df["ordered_at"] = pd.to_datetime(df["ordered_at"])
    return df


def test_demo_tables_equal_pandas(demo: Project, subtests: pytest.Subtests) -> None:
    orders = _demo_orders(demo)
    c = demo.analysis.customers
    as_of = c.latest_date()
    with subtests.test("cohorts by acquisition channel"):
        _check_cohorts(c.cohorts(by="acquisition_channel"), ref.cohorts(orders, "month", True), ["acquisition_channel"])
    with subtests.test("repurchase by acquisition channel"):
        got = c.repurchase(as_of=as_of).set_index("acquisition_channel").sort_index()
        want = ref.repurchase(orders, as_of, WINDOWS).sort_index()
        assert got.index.tolist() == want.index.tolist()
        for col in want.columns:
            assert got[col].astype("int64").tolist() == want[col].tolist(), col
    with subtests.test("RFM segments"):
        got = c.rfm(as_of=as_of).set_index("segment")["customers"].to_dict()
        counts = ref.rfm(orders, as_of)["segment"].value_counts()
        assert got == {s: int(counts.get(s, 0)) for s in SEGMENT_CODES}
    with subtests.test("scope: one channel's customers only"):
        tm = orders[orders["channel_id"] == "tmall"]
        got = c.repurchase(as_of=as_of, channels=["tmall"])
        assert got["acquisition_channel"].tolist() == ["tmall"]
        assert int(got["customers"].iloc[0]) == tm["customer_key"].nunique()
        seg = c.rfm(as_of=as_of, channels=["tmall"])
        assert int(seg["customers"].sum()) == tm["customer_key"].nunique()
    with subtests.test("channel overlap"):
        m = c.overlap()
        cc = orders[["customer_key", "channel_id"]].drop_duplicates()
        pairs = cc.merge(cc, on="customer_key")
        want = pd.crosstab(pairs["channel_id_x"], pairs["channel_id_y"])
        assert m.to_numpy().tolist() == want.to_numpy().tolist()
        assert m.index.tolist() == want.index.tolist()
    with subtests.test("first and second order channel"):
        m = c.first_second_channel()
        s = orders.sort_values(["customer_key", "ordered_at", "order_id"])
        n = s.groupby("customer_key").cumcount()
        first = s[n == 0].set_index("customer_key")["channel_id"]
        second = s[n == 1].set_index("customer_key")["channel_id"].reindex(first.index).fillna("(none)")
        want = pd.crosstab(first, second)
        assert int(m.to_numpy().sum()) == orders["customer_key"].nunique()
        for f in want.index:
            for t in want.columns:
                assert m.loc[f, t] == want.loc[f, t]
    with subtests.test("single vs multi-channel value"):
        got = c.multi_channel_value().set_index("kind")
        per = orders.groupby("customer_key").agg(n=("channel_id", "nunique"), cents=("cents", "sum"))
        multi = per[per["n"] > 1]
        assert int(got.loc["multi_channel", "customers"]) == len(multi)
        assert round(got.loc["multi_channel", "value"] * 100) == multi["cents"].sum()
    with subtests.test("cannibalization: distributor customers who bought in the own store before"):
        got = c.cannibalization().set_index("distributor_id")
        kinds = dict(demo.warehouse.execute("SELECT channel_id, kind FROM channels"))
        own = orders[orders["channel_id"].map(kinds) == "own_store"].groupby("customer_key")["ordered_at"].min()
        d = orders[orders["distributor_id"].notna()].groupby(["distributor_id", "customer_key"])["ordered_at"].min()
        d = d.reset_index()
        d["before"] = d["customer_key"].map(own) < d["ordered_at"]
        want = d.groupby("distributor_id").agg(customers=("customer_key", "size"), before=("before", "sum"))
        assert got["customers"].astype("int64").to_dict() == want["customers"].to_dict()
        assert got["bought_own_store_before"].astype("int64").to_dict() == want["before"].astype("int64").to_dict()


def test_demo_clv_fits_and_is_checked_on_the_holdout(demo: Project) -> None:
    c = demo.analysis.customers
    r = c.clv(holdout_days=180)
    assert r.bgnbd.ok and r.gamma_gamma.ok, r.reason
    assert r.holdout is not None and r.holdout_end == c.latest_date()
    assert int(r.holdout["customers"].sum()) == len(r.customers)
    roll = r.rollup.set_index("acquisition_channel")
    assert int(roll["customers"].sum()) == len(r.customers)
    assert roll["purchases_180d"].sum() == pytest.approx(r.customers["purchases_180d"].sum())
    cac = c.clv_cac(r).set_index("acquisition_channel")
    assert set(cac.index) == set(roll.index)
    # the resellers channel has no ad spend: its CAC is empty with a reason, never 0
    assert pd.isna(cac.loc["wechat_resellers", "cac"]) and cac.loc["wechat_resellers", "reason"]
    spend = demo.warehouse.execute(
        f"SELECT sum(spend) FROM ad_spend WHERE channel_id = 'tmall' AND date <= DATE '{r.calibration_end}'"
    )[0][0]
    assert cac.loc["tmall", "ad_spend"] == round(float(spend), 2)
    assert cac.loc["tmall", "cac"] == pytest.approx(cac.loc["tmall", "ad_spend"] / cac.loc["tmall", "new_customers"])
