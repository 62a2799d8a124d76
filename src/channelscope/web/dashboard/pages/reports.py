"""报告 / Reports: the archive of issued reports (newest first) within the user's scope, each with download
links to the API's archive route (``/api/reports/<id>/<format>``: the same authorization and scope as any
API client; the browser's session cookie signs the request)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dash import html
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import t
from channelscope.web.dashboard.widgets import empty, section, table

FORMATS = ("html", "pdf", "xlsx")


def render(ctx: PageContext) -> Component:
    from channelscope.report import load_definitions
    from channelscope.web.actions_api import archive_entries

    lang = ctx.lang
    entries = archive_entries(ctx.project, ctx.user)
    if not entries:
        return section(t("rp_title", lang), empty(t("rp_none", lang)), id_="reports-panel")
    titles = {name: d.title for name, d in load_definitions(ctx.project.folder).items()}

    rows = []
    for e in entries:
        title = titles.get(e["name"], {})
        rows.append(
            {
                **e,
                "title": title.get(lang) or title.get("en") or e["name"],
                "formats": [f for f in FORMATS if Path(e["files"].get(f, "")).is_file()],
            }
        )

    def files(r: dict[str, Any]) -> Any:
        return html.Div(
            [
                html.A(
                    f.upper(),
                    href=f"/api/reports/{r['id']}/{f}",
                    id=f"report-{r['id']}-{f}",
                    className="download",
                    style={"marginRight": "10px"},
                    target="_blank" if f == "html" else None,
                    download=None if f == "html" else "",
                )
                for f in r["formats"]
            ],
            className="downloads",
        )

    def scope(r: dict[str, Any]) -> str:
        chans = r.get("channels") or []
        return ", ".join(ctx.channel_name(c) for c in chans) if chans else t("rp_all", lang)

    columns: list[tuple[str, str, Any]] = [
        ("title", t("rp_report", lang), lambda r: r["title"]),
        ("period", t("rp_period", lang), lambda r: f"{r['period'][0]} – {r['period'][1]}"),
        ("scope", t("rp_scope", lang), scope),
        ("language", t("rp_language", lang), lambda r: r.get("language") or ""),
        ("findings", t("rp_findings", lang), lambda r: str(r.get("findings", ""))),
        ("as_of", t("rp_as_of", lang), lambda r: r.get("data_as_of") or "–"),
        ("generated", t("rp_generated", lang), lambda r: str(r.get("generated_at") or "").replace("T", " ")),
        ("files", t("rp_files", lang), files),
    ]
    return section(
        f"{t('rp_title', lang)} ({len(rows)})",
        table("reports-table", rows, columns, key="id", numeric=("findings",)),
        id_="reports-panel",
    )
