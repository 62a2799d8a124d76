"""SQL and REST sources: fetched into a local file, then through the same clean path as files.

A SQL source reads any database URL Ibis can open. A REST source follows pages (a next-page URL or
token, or a page number) and sends an incremental cursor: the largest ``cursor_field`` value of the
last successful load, kept in ``source_state``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from channelscope.config import SourceConfig
from channelscope.errors import SourceError
from channelscope.sources.files import InputFile

if TYPE_CHECKING:
    from channelscope.project import Project

MAX_PAGES = 100_000


def fetch_to_file(project: Project, src: SourceConfig) -> InputFile:
    """Fetch the source's new records into a temp file (one batch)."""
    out = Path(tempfile.mkdtemp(prefix="channelscope-fetch-"))
    if src.kind == "sql":
        return _fetch_sql(src, out)
    return _fetch_rest(project, src, out)


def _fetch_sql(src: SourceConfig, out: Path) -> InputFile:
    import ibis

    try:
        con = ibis.connect(src.url)
        expr = con.sql(src.query) if src.query else con.table(src.table)
        path = out / f"{src.name}.parquet"
        expr.to_parquet(path)
    except Exception as exc:  # drivers raise their own kinds
        raise SourceError(f"SQL source failed: {str(exc).splitlines()[0][:300]}", file=src.name) from exc
    return InputFile(path, f"sql:{src.name}")


def _dig(obj: Any, dotted: str | None) -> Any:
    if not dotted:
        return obj
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def read_cursor(project: Project, source: str) -> str | None:
    rows = project.warehouse.execute("SELECT cursor FROM source_state WHERE source = ?", [source])
    return rows[0][0] if rows else None


def save_cursor(project: Project, source: str, cursor: str) -> None:
    with project.warehouse.transaction() as tx:
        tx.execute("DELETE FROM source_state WHERE source = ?", [source])
        tx.execute("INSERT INTO source_state VALUES (?, ?, now())", [source, cursor])


def _fetch_rest(project: Project, src: SourceConfig, out: Path) -> InputFile:
    headers = {}
    for header, env in src.headers_env.items():
        if env not in os.environ:
            raise SourceError(f"environment variable {env} (for header {header}) is not set", file=src.name)
        headers[header] = os.environ[env]
    params: dict[str, Any] = dict(src.params)
    cursor = read_cursor(project, src.name)
    if cursor and src.cursor_param:
        params[src.cursor_param] = cursor
    if src.page_size_param:
        params[src.page_size_param] = src.page_size
    page = 1
    url: str | None = src.url
    path = out / f"{src.name}.jsonl"
    newest = cursor
    count = 0
    with (
        httpx.Client(timeout=30.0, headers=headers, follow_redirects=True) as client,
        path.open("w", encoding="utf-8") as fh,
    ):
        for _ in range(MAX_PAGES):
            if url is None:
                break
            if src.page_param:
                params[src.page_param] = page
            try:
                resp = client.get(url, params=params)
                resp.raise_for_status()
                body = resp.json()
            except httpx.HTTPStatusError as exc:
                raise SourceError(f"HTTP {exc.response.status_code} from {exc.request.url}", file=src.name) from exc
            except (httpx.HTTPError, ValueError) as exc:
                raise SourceError(f"cannot read page {page}: {exc}", file=src.name) from exc
            records = _dig(body, src.records_path) if src.records_path else body
            if not isinstance(records, list):
                raise SourceError(
                    f"page {page}: '{src.records_path or '(body)'}' is not a list of records", file=src.name
                )
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
                if src.cursor_field and rec.get(src.cursor_field) is not None:
                    value = str(rec[src.cursor_field])
                    newest = value if newest is None or value > newest else newest
            count += len(records)
            nxt = _dig(body, src.next_path) if src.next_path else None
            if src.next_path:
                if not nxt:
                    url = None
                elif str(nxt).startswith("http"):
                    url, params = str(nxt), {}
                else:
                    params["cursor"] = nxt
            elif src.page_param:
                url = url if records and len(records) >= src.page_size else None
            else:
                url = None
            page += 1
    f = InputFile(path, f"rest:{src.name}")
    f.pending_cursor = newest  # type: ignore[attr-defined]
    f.records = count  # type: ignore[attr-defined]
    return f
