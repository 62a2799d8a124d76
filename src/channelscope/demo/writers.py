"""Fast, deterministic writers of text tables: CSV (any encoding, optionally gzip) and a minimal
one-sheet .xlsx, both from a pyarrow table of strings. Same table, same bytes."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

#: Fixed time stamp of archive members, so that a workbook's bytes depend on its content only.
_ZIP_TIME = (2024, 11, 2, 9, 0, 0)
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def text_table(columns: dict[str, object]) -> pa.Table:
    """A table whose every column is a (nullable) string."""
    return pa.table({k: pa.array(v).cast(pa.string()) for k, v in columns.items()})


def write_csv(table: pa.Table, path: Path, encoding: str = "utf-8", crlf: bool = False) -> None:
    """CSV with a header (quoted only when a value needs it); ``.gz`` paths are gzipped (mtime 0)."""
    names = [f'"{n}"' if any(ch in n for ch in ',"\n') else n for n in table.column_names]
    buf = io.BytesIO()
    buf.write((",".join(names) + "\n").encode("utf-8"))
    start = buf.tell()
    try:  # plain, like most exports; values with quotes or commas make pyarrow quote every string
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    except pa.ArrowInvalid:
        buf.seek(start)
        buf.truncate()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    data = buf.getvalue()
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
        data = data.decode("utf-8").encode(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)


def _column_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _escape(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        values = pc.replace_substring(values, raw, safe)
    return values


def write_xlsx(table: pa.Table, path: Path, sheet: str = "Sheet1") -> None:
    """A one-sheet workbook of inline strings (empty and missing values leave the cell blank)."""
    n = table.num_rows
    rownum = pa.array([str(i) for i in range(2, n + 2)])
    cells = []
    for i, name in enumerate(table.column_names):
        col = pc.fill_null(table.column(name), "")
        ref = pc.binary_join_element_wise(f'<c r="{_column_letter(i)}', rownum, "")
        cell = pc.binary_join_element_wise(ref, '" t="inlineStr"><is><t>', _escape(col), "</t></is></c>", "")
        cells.append(pc.if_else(pc.equal(col, ""), "", cell))
    body = pc.binary_join_element_wise(*cells, "") if cells else pa.array([""] * n)
    rows = pc.binary_join_element_wise('<row r="', rownum, '">', body, "</row>", "")
    head = "".join(
        f'<c r="{_column_letter(i)}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for i, name in enumerate(table.column_names)
    )
    sheet_xml = (
        f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData><row r="1">{head}</row>'
        + "".join(rows.to_pylist())
        + "</sheetData></worksheet>"
    )
    parts = {
        "[Content_Types].xml": (
            f'{_XML}<Types xmlns="{_PKG}/content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'{_XML}<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
            f'Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_DOC}"><sheets>'
            f'<sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_XML}<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
            f'Type="{_DOC}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, xml in parts.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, xml.encode("utf-8"))
