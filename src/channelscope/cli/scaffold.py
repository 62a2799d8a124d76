"""``channelscope init``: a new project folder with a commented config and a key file."""

from __future__ import annotations

from pathlib import Path

from channelscope.clean.pseudonymize import write_new_key
from channelscope.errors import ConfigError

TEMPLATE = """\
# channelscope project configuration.  Docs: docs/configuration.md
# Every key is checked when the project loads; an error names this file, the line and the key.

project:
  name: {name}
  base_currency: CNY          # ISO 4217: money is also stored in this currency (FX table)
  timezone: Asia/Shanghai     # business dates are days in this zone; timestamps are stored in UTC
  locale: zh-CN               # zh-CN or en for tables, reports and the dashboard

warehouse:
  url: duckdb:///warehouse.duckdb   # embedded default, inside this folder
  # url: postgresql://user@127.0.0.1:5432/channelscope   # or a PostgreSQL server
  memory_limit: 600MB        # DuckDB buffer pool; keeps a load under 1 GiB of memory

privacy:
  # personal fields are replaced by a keyed HMAC before anything lands; the key stays outside
  # the warehouse: in this environment variable, or else in this file (created by init)
  key_env: CHANNELSCOPE_PSEUDONYM_KEY
  key_file: secrets/pseudonym.key

channels:                     # where the brand sells
  - id: own_store
    name: 官方商城
    kind: own_store           # own_store | marketplace | social | live_stream | distributor | offline
    platform: shopify
  - id: tmall
    name: 天猫旗舰店
    kind: marketplace
    platform: tmall
    fee_rate: 0.05            # platform commission as a share of GMV

distributors: []              # resellers, affiliates, KOLs, live hosts (id, channel_id, tier, parent_id...)

sources:                      # what to load; one batch per file; re-loading the same file changes nothing
  - name: products
    path: exports/products*.csv
    preset: canonical_products       # columns named as the canonical table (docs/canonical-model.md)
  - name: tmall_orders
    path: exports/tmall/*.csv        # globs, .gz and .zip work; GBK is detected
    preset: tmall_orders             # Taobao/Tmall seller-center order export
    channel_id: tmall
    expect_every: 1d                 # 'status' flags the source as stale after this long
  - name: own_store_orders
    path: exports/shopify/*.csv
    preset: shopify_orders
    channel_id: own_store

# calendar:                   # festivals default to 春节, 618, 双11, 双12, Black Friday, Prime Day
#   festivals:
#     - {{name: 双11, name_en: "Singles' Day", start: "11-01", end: "11-11"}}
# cleaning:
#   price_outlier_low: 0.1    # unit prices outside 0.1x-5x of list_price are quarantined
#   price_outlier_high: 5.0
"""


def scaffold(folder: Path, *, force: bool = False) -> list[Path]:
    """Create the project folder; refuse to overwrite an existing config unless ``force``."""
    config = folder / "channelscope.yaml"
    if config.exists() and not force:
        raise ConfigError("a project already exists here", file=str(config), hint="use --force to overwrite")
    for sub in ("exports/tmall", "exports/shopify", "presets", "secrets"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    config.write_text(TEMPLATE.format(name=folder.resolve().name), encoding="utf-8")
    key = folder / "secrets" / "pseudonym.key"
    made = [config]
    if not key.exists():
        write_new_key(key)
        made.append(key)
    gitignore = folder / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("secrets/\n*.duckdb\n*.duckdb.wal\n.channelscope-tmp/\n", encoding="utf-8")
        made.append(gitignore)
    return made
