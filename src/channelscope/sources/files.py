"""File connector: finds a source's files and stages each one, all columns as text, in DuckDB.

Encodings (UTF-8, UTF-8 with BOM, GBK/GB18030) are detected; .gz and .zip are opened; CSV, TSV,
Excel, Parquet, JSON and JSON Lines are read. Malformed CSV lines are kept as rejects with their
line number, so they are counted and quarantined, never dropped.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import hashlib
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from channelscope.errors import SourceError
from channelscope.sources.mapping import ReadOptions

SAMPLE_BYTES = 1 << 20
#: a line with more fields than this (or 4x the header's) is far wider than any header: rejected unread
MIN_WIDE_FIELDS = 256
#: a wide line up to this size is kept whole to count its fields exactly; a longer one counts its delimiters
MAX_KEPT_LINE = 16 << 20
#: a header with more columns than this is no export's
MAX_COLUMNS = 4096
NEWLINE = ord("\n")
TEXT_FORMATS = {"csv", "tsv", "json", "jsonl"}


@dataclass
class InputFile:
    """One file to load as one batch (a member of a zip is one file)."""

    path: Path
    display: str
    member: str | None = None

    def open_bytes(self):
        if self.member is not None:
            return zipfile.ZipFile(self.path).open(self.member)
        if self.path.suffix.lower() == ".gz":
            return gzip.open(self.path, "rb")
        return self.path.open("rb")

    @property
    def logical_name(self) -> str:
        name = self.member or self.path.name
        return name[:-3] if name.lower().endswith(".gz") else name


@dataclass
class StagedFile:
    """A file staged as a DuckDB temp table of text columns plus ``_row``."""

    table: str
    columns: list[str]
    rows: int
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, raw line, error)
    encoding: str = "utf-8"


def has_files(project: Path, pattern: str) -> bool:
    """Whether a path or glob relative to the project matches at least one file."""
    base = Path(pattern) if Path(pattern).is_absolute() else project / pattern
    return any(not Path(m).is_dir() for m in glob.iglob(str(base), recursive=True))


def find_files(project: Path, pattern: str) -> list[InputFile]:
    """Expand a path or glob relative to the project; zip archives yield one file per member."""
    base = Path(pattern) if Path(pattern).is_absolute() else project / pattern
    matches = sorted(glob.glob(str(base), recursive=True))
    if not matches:
        raise SourceError("no file matches this path", file=str(base), hint="check 'path' in channelscope.yaml")
    out: list[InputFile] = []
    for m in matches:
        p = Path(m)
        if p.is_dir():
            continue
        if p.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(p) as z:
                    for info in z.infolist():
                        if not info.is_dir():
                            out.append(InputFile(p, f"{p}!{info.filename}", info.filename))
            except zipfile.BadZipFile as exc:
                raise SourceError("is not a readable zip archive", file=str(p)) from exc
        else:
            out.append(InputFile(p, str(p)))
    return out


def fingerprint(f: InputFile) -> str:
    """SHA-256 of the file's bytes (of the member, for a zip)."""
    h = hashlib.sha256()
    with f.open_bytes() if f.member else f.path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    if f.path.suffix.lower() == ".gz" and f.member is None:
        _check_gzip(f)
    return h.hexdigest()


def _check_gzip(f: InputFile) -> None:
    """Read a .gz to its end: a truncated or corrupt one is a SourceError naming the file, not an EOFError."""
    import zlib

    try:
        with gzip.open(f.path, "rb") as fh:
            while fh.read(1 << 22):
                pass
    except (EOFError, OSError, zlib.error) as exc:
        raise SourceError(
            f"is not a complete gzip file: {exc}", file=f.display, hint="copy or download it again"
        ) from exc


def detect_format(f: InputFile, opts: ReadOptions) -> str:
    if opts.format != "auto":
        return opts.format
    suffix = Path(f.logical_name).suffix.lower().lstrip(".")
    return {"txt": "csv", "xls": "xlsx", "xlsm": "xlsx", "ndjson": "jsonl", "pq": "parquet"}.get(
        suffix, suffix
    ) or "csv"


def detect_encoding(sample: bytes, declared: str = "auto", *, file: str = "") -> str:
    """The text encoding of a sample: utf-8, utf-8-sig or gb18030 (a superset of GBK)."""
    if declared != "auto":
        try:
            codecs.lookup(declared)
        except LookupError as exc:
            raise SourceError(f"unknown encoding '{declared}'", file=file) from exc
        return declared
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample[:4096]:
        raise SourceError(
            "looks like binary data, not a text export",
            file=file,
            hint="export the report as CSV, Excel or JSON",
        )
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)().decode(sample, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise SourceError("cannot tell the text encoding", file=file, hint="set 'encoding' on the source")
    return best.encoding


def _utf8_copy(f: InputFile, encoding: str, workdir: Path) -> Path:
    """Transcode a file to UTF-8 in chunks (DuckDB reads UTF-8 only)."""
    out = workdir / (Path(f.logical_name).stem + ".utf8")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with f.open_bytes() as src, out.open("w", encoding="utf-8", newline="") as dst:
        offset = 0
        for chunk in iter(lambda: src.read(1 << 22), b""):
            try:
                dst.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"is not valid {encoding} text at byte {offset + exc.start}",
                    file=f.display,
                    hint="set 'encoding' on the source if detection was wrong",
                ) from exc
            offset += len(chunk)
        dst.write(decoder.decode(b"", final=True))
    return out


def _sample(f: InputFile) -> bytes:
    with f.open_bytes() as fh:
        return fh.read(SAMPLE_BYTES)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stage_file(
    con: duckdb.DuckDBPyConnection, f: InputFile, opts: ReadOptions, table: str, workdir: Path
) -> StagedFile:
    """Read one file into temp table ``table``: text columns and ``_row`` (1-based data row)."""
    fmt = detect_format(f, opts)
    try:
        if fmt in ("csv", "tsv"):
            return _stage_csv(con, f, opts, table, workdir, fmt)
        if fmt == "xlsx":
            return _stage_excel(con, f, opts, table)
        if fmt == "parquet":
            return _stage_relation(con, f, table, "read_parquet", workdir)
        if fmt in ("json", "jsonl"):
            return _stage_json(con, f, opts, table, workdir, fmt)
    except duckdb.Error as exc:
        raise SourceError(f"cannot be read as {fmt}: {_first_line(exc)}", file=f.display) from exc
    raise SourceError(
        f"unsupported format '{fmt}'",
        file=f.display,
        hint="csv, tsv, xlsx, parquet, json or jsonl (optionally .gz or inside a .zip)",
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _local_path(f: InputFile, workdir: Path) -> Path:
    """A plain file DuckDB can read: the file itself, or a member extracted from a zip."""
    if f.member is None:
        return f.path
    out = workdir / Path(f.member).name
    with f.open_bytes() as src, out.open("wb") as dst:
        for chunk in iter(lambda: src.read(1 << 22), b""):
            dst.write(chunk)
    return out


def _stage_csv(
    con: duckdb.DuckDBPyConnection, f: InputFile, opts: ReadOptions, table: str, workdir: Path, fmt: str
) -> StagedFile:
    sample = _sample(f)
    if not sample.strip():
        raise SourceError("is empty: no header and no rows", file=f.display)
    encoding = detect_encoding(sample, opts.encoding, file=f.display)
    path = _local_path(f, workdir) if encoding in ("utf-8", "utf-8-sig", "ascii") else _utf8_copy(f, encoding, workdir)
    delim = opts.delimiter or ("\t" if fmt == "tsv" else _guess_delimiter(sample, encoding, opts.skip_rows))
    args = [
        "all_varchar = true",
        "null_padding = true",
        "ignore_errors = true",
        "store_rejects = true",
        f"rejects_table = {_lit(table + '_rej')}",
        f"rejects_scan = {_lit(table + '_scan')}",
        "max_line_size = 4194304",
        "quote = '\"'",
        "escape = '\"'",
        f"skip = {int(opts.skip_rows)}",
        f"header = {'false' if opts.no_header else 'true'}",
    ]
    args.append(f"delim = {_lit(delim)}")
    # DuckDB's default CSV buffer is 16x max_line_size (64 MiB, per thread): it fails a small
    # memory_limit before anything can spill; 16 MiB buffers read as fast
    args.append("buffer_size = 16777216")
    names = opts.column_names or _header_names(sample, encoding, opts.skip_rows, delim, f.display)
    if opts.no_header and not opts.column_names:
        names = [f"column_{i + 1}" for i in range(len(names))]
    # a line far wider than the header is set aside before DuckDB reads the file: its reader records one reject
    # per extra field, so a line of 100,000 fields took minutes and gigabytes
    path, wide = _set_aside_wide_lines(path, delim, len(names), workdir, f.display)
    # the header is read here, not sniffed: DuckDB's sniffer gives up on files mixing bad lines
    args.append("auto_detect = false")
    args.append("columns = {" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}")
    con.execute(f"DROP TABLE IF EXISTS {table}_rej; DROP TABLE IF EXISTS {table}_scan")
    src = f"read_csv({_lit(str(path))}, {', '.join(args)})"
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT row_number() OVER () AS _row, * FROM {src}")
    except duckdb.Error as exc:
        if "quoted new lines" not in str(exc):
            raise
        # RFC 4180 line breaks inside quotes ("x\ny"): DuckDB's parallel reader cannot pad short lines then, the
        # single-threaded one can; only such files pay for it
        con.execute(f"DROP TABLE IF EXISTS {table}_rej; DROP TABLE IF EXISTS {table}_scan")
        src = f"read_csv({_lit(str(path))}, {', '.join([*args, 'parallel = false'])})"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT row_number() OVER () AS _row, * FROM {src}")
    rejects = con.execute(
        f"SELECT line, any_value(csv_line), string_agg(DISTINCT error_type || coalesce(' in ' || column_name, ''), '; ') "
        f"FROM {table}_rej GROUP BY line ORDER BY line"
    ).fetchall()
    read = [(wide.original_line(int(r[0])), r[1] or "", r[2] or "") for r in rejects]
    return _finish(con, table, encoding, sorted([*read, *wide.rejects]))


@dataclass
class WideLines:
    """The lines set aside as far wider than the header: their rejects and physical line numbers (1-based)."""

    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def original_line(self, line: int) -> int:
        """The line number in the original file of line ``line`` of the copy without the wide lines."""
        for removed in self.lines:  # few (hostile files only), sorted
            if removed <= line:
                line += 1
            else:
                break
        return line


def wide_line_limit(columns: int) -> int:
    """Fields above which a line is rejected unread: far wider than the header (4x, at least 256)."""
    return max(MIN_WIDE_FIELDS, 4 * columns)


def _set_aside_wide_lines(path: Path, delim: str, columns: int, workdir: Path, display: str) -> tuple[Path, WideLines]:
    """Find the lines with more than ``wide_line_limit(columns)`` fields (at C speed: a line that wide is at
    least that many bytes long, and only such lines are looked at), and, when there are any, return a copy of
    the file without them plus one reject each naming the file, the line and its number of fields."""
    limit = wide_line_limit(columns)
    sep = delim.encode("utf-8")
    found: list[tuple[int, int, bytes, int]] = []  # (line, fields, first bytes, size in bytes)

    def check(line_no: int, text: bytes, size: int, delims: int) -> None:
        if size > limit and delims >= limit:
            fields = _fields_of(text, delim) if size <= MAX_KEPT_LINE else delims + 1
            if fields > limit:
                found.append((line_no, fields, text[:200], size))

    line_no = 1  # the number of the running line: the one the next chunk continues
    running = bytearray()  # the running line, kept whole up to MAX_KEPT_LINE
    running_size = running_delims = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == NEWLINE)
            if len(ends):  # the running line ends in this chunk
                head = chunk[: ends[0]]
                size = running_size + len(head)
                if size > limit:
                    kept = bytes(running + head) if size <= MAX_KEPT_LINE else bytes(running)
                    check(line_no, kept, size, running_delims + head.count(sep))
                running.clear()
                running_size = running_delims = 0
                # whole lines inside the chunk: only the long ones are looked at
                for i in np.flatnonzero(np.diff(ends) - 1 > limit):
                    part = chunk[ends[i] + 1 : ends[i + 1]]
                    check(line_no + 1 + int(i), part, len(part), part.count(sep))
                line_no += len(ends)
                last = chunk[ends[-1] + 1 :]
            else:
                last = chunk
            running_size += len(last)
            running_delims += last.count(sep)
            if len(running) + len(last) <= MAX_KEPT_LINE:
                running += last
    if running_size > limit:
        check(line_no, bytes(running), running_size, running_delims)
    wide = WideLines()
    if not found:
        return path, wide
    for line, fields, head, size in found:
        text = head.decode("utf-8", errors="replace") + f"… ({size:,} bytes)"
        error = f"{display}: {fields:,} fields where the header has {columns}; a line this wide is not read"
        wide.rejects.append((line, text, error))
        wide.lines.append(line)
    out = workdir / (path.name + ".narrow")
    skip = set(wide.lines)
    with path.open("rb") as src, out.open("wb") as dst:
        for n, raw_line in enumerate(src, start=1):
            if n not in skip:
                dst.write(raw_line)
    return out, wide


def _fields_of(line: bytes, delim: str) -> int:
    """Fields of one physical line as a CSV reader counts them (delimiters inside quotes do not count); a line
    with an open quote (part of a quoted line break) counts every delimiter."""
    import csv

    text = line.decode("utf-8", errors="replace").rstrip("\r")
    quotes = text.count('"')
    if quotes == 0 or quotes % 2:
        return text.count(delim) + 1
    try:
        return max((len(row) for row in csv.reader([text], delimiter=delim)), default=0)
    except csv.Error:
        return text.count(delim) + 1


def _header_names(sample: bytes, encoding: str, skip: int, delim: str, file: str) -> list[str]:
    """Column names from the header line: trimmed, unique, never empty."""
    import csv
    import io

    text = sample.decode(encoding, errors="ignore").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        for _ in range(skip):
            next(reader)
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise SourceError("has no readable header line", file=file) from exc
    if len(header) > MAX_COLUMNS:
        raise SourceError(
            f"has a header of {len(header):,} columns (at most {MAX_COLUMNS:,})",
            file=file,
            line=skip + 1,
            hint="is this the right file, and the right delimiter?",
        )
    names: list[str] = []
    for i, raw in enumerate(header):
        name = raw.strip().strip("\ufeff") or f"column_{i + 1}"
        base, n = name, 1
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def _guess_delimiter(sample: bytes, encoding: str, skip: int) -> str:
    """The delimiter of the header line: the most frequent of , tab ; | (default ,)."""
    text = sample[:65536].decode(encoding, errors="ignore").lstrip("\ufeff")
    lines = text.splitlines()
    header = lines[skip] if len(lines) > skip else ""
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _finish(con: duckdb.DuckDBPyConnection, table: str, encoding: str, rejects: list) -> StagedFile:
    cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "_row"]
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
    return StagedFile(table, cols, int(rows), rejects, encoding)


def _stage_relation(con: duckdb.DuckDBPyConnection, f: InputFile, table: str, reader: str, workdir: Path) -> StagedFile:
    path = _local_path(f, workdir)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT row_number() OVER () AS _row, "
        f"COLUMNS(*)::VARCHAR FROM {reader}({_lit(str(path))})"
    )
    return _finish(con, table, "binary", [])


def _stage_json(
    con: duckdb.DuckDBPyConnection, f: InputFile, opts: ReadOptions, table: str, workdir: Path, fmt: str
) -> StagedFile:
    sample = _sample(f)
    if not sample.strip():
        raise SourceError("is empty: no records", file=f.display)
    encoding = detect_encoding(sample, opts.encoding, file=f.display)
    path = _local_path(f, workdir) if encoding.startswith("utf-8") else _utf8_copy(f, encoding, workdir)
    kind = "newline_delimited" if fmt == "jsonl" else "auto"
    args = f"format = {_lit(kind)}, maximum_object_size = 16777216"
    names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_json({_lit(str(path))}, {args})").fetchall()]
    # values as the text they were written as: strings unquoted, numbers as digits, objects as JSON
    cols = ", ".join(
        f"json_extract_string(json, {_lit('$.' + chr(34) + n.replace(chr(34), '') + chr(34))}) AS {_q(n)}"
        for n in names
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT row_number() OVER () AS _row, {cols} "
        f"FROM read_json_objects({_lit(str(path))}, {args})"
    )
    return _finish(con, table, encoding, [])


def _stage_excel(con: duckdb.DuckDBPyConnection, f: InputFile, opts: ReadOptions, table: str) -> StagedFile:
    import pandas as pd

    try:
        with f.open_bytes() as fh:
            frame = pd.read_excel(
                fh,
                sheet_name=opts.sheet if opts.sheet is not None else 0,
                dtype=str,
                skiprows=opts.skip_rows,
                header=None if opts.no_header else 0,
                names=opts.column_names,
                engine="openpyxl",
            )
    except Exception as exc:  # openpyxl raises many kinds on a broken workbook
        raise SourceError(f"cannot be read as an Excel workbook: {exc}", file=f.display) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    # every cell as text and every empty cell as NULL, whatever pandas made of a column (an all-empty column
    # is float NaN under pandas 2, which DuckDB would type as a number)
    frame = frame.astype("string")
    frame.insert(0, "_row", range(1, len(frame) + 1))
    con.register(f"{table}_df", frame)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT _row, COLUMNS(* EXCLUDE (_row))::VARCHAR FROM {table}_df"
    )
    con.unregister(f"{table}_df")
    return _finish(con, table, "xlsx", [])


def iter_staged_columns(staged: StagedFile) -> Iterator[str]:
    yield from staged.columns


def new_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="channelscope-"))
