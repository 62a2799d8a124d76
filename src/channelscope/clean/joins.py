"""Other files of one export joined to the staged file on keys (a mapping's ``join``).

Marketplaces such as Olist export one table per file: an order's time and status in one, its
items (prices, freight) in another, its payments and its customer in others. A ``join`` reads
each such file as text, folds its rows to one per key in SQL (sum of prices, first customer id),
and left-joins the result to the staged rows as new text columns. A staged row stays one row, so
the ledger still counts the loaded file's rows; the joined files' own rows are counted by their
own sources.
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from channelscope.clean import parse as P
from channelscope.errors import SourceError
from channelscope.sources import files as F
from channelscope.sources.mapping import Join, JoinColumn, Mapping


@dataclass
class JoinedFiles:
    """The files each join of a mapping reads, for one loaded file."""

    files: list[list[F.InputFile]]

    def fingerprint(self, own: str) -> str:
        """The batch's fingerprint: the loaded file's and every joined file's bytes."""
        if not any(self.files):
            return own
        h = hashlib.sha256(own.encode())
        for group in self.files:
            for f in group:
                h.update(F.fingerprint(f).encode())
        return h.hexdigest()

    @property
    def names(self) -> list[str]:
        return [f.display for group in self.files for f in group]


def find_joined(mapping: Mapping, loaded: F.InputFile) -> JoinedFiles:
    """The files of every join, by its glob relative to the loaded file's folder."""
    found: list[list[F.InputFile]] = []
    for j in mapping.join:
        base = Path(j.path) if Path(j.path).is_absolute() else loaded.path.parent / j.path
        paths = [Path(m) for m in sorted(glob.glob(str(base))) if Path(m).is_file() and Path(m) != loaded.path]
        if not paths and not j.optional:
            raise SourceError(
                f"the mapping joins '{j.path}', and no file next to it matches",
                file=loaded.display,
                hint=f"put the export's other file in {loaded.path.parent}, or mark the join 'optional: true'",
            )
        found.append([F.InputFile(p, str(p)) for p in paths])
    return JoinedFiles(found)


def _typed(text: str, col: JoinColumn) -> str:
    if col.type == "money":
        return P.parse_decimal(text, 2, 1)
    if col.type == "decimal":
        return P.parse_decimal(text, 8, 1)
    if col.type == "int":
        return P.parse_int(text)
    return text


def _fold(name: str, col: JoinColumn) -> str:
    """One key's value of a joined column, as text; an unreadable value surfaces, never vanishes."""
    text = P.clean_text(P.ident(col.from_))
    typed = _typed(text, col)
    how = {
        "first": f"first({typed} ORDER BY _row) FILTER (WHERE {typed} IS NOT NULL)",
        "last": f"last({typed} ORDER BY _row) FILTER (WHERE {typed} IS NOT NULL)",
        "sum": f"sum({typed})",
        "min": f"min({typed})",
        "max": f"max({typed})",
        "count": f"count({typed})",
        "count_distinct": f"count(DISTINCT {typed})",
    }[col.aggregate]
    bad = f"{text} IS NOT NULL AND {typed} IS NULL"
    # the loaded row then fails to parse and is quarantined with this text as its reason
    return (
        f"CASE WHEN bool_or({bad}) THEN 'unreadable in the joined file: ' || "
        f"first({text}) FILTER (WHERE {bad}) ELSE CAST({how} AS VARCHAR) END AS {P.ident(name)}"
    )


def _stage_group(con: duckdb.DuckDBPyConnection, group: list[F.InputFile], j: Join, name: str, workdir: Path) -> str:
    parts = []
    needed = [*j.key.values(), *(c.from_ for c in j.columns.values())]
    for n, f in enumerate(group):
        staged = F.stage_file(con, f, j.read, f"{name}_{n}", workdir)
        missing = [c for c in needed if c not in staged.columns]
        if missing:
            raise SourceError(
                f"joined file has no column {', '.join(repr(c) for c in missing)}; it has: "
                + ", ".join(staged.columns[:40]),
                file=f.display,
            )
        parts.append(f"SELECT {', '.join(P.ident(c) for c in needed)}, _row FROM {staged.table}")
    return " UNION ALL ".join(parts)


def apply_joins(
    con: duckdb.DuckDBPyConnection, raw: str, columns: list[str], mapping: Mapping, joined: JoinedFiles, workdir: Path
) -> list[str]:
    """Left-join every join's folded columns onto the staged table ``raw``; return its new columns."""
    out = list(columns)
    for k, (j, group) in enumerate(zip(mapping.join, joined.files, strict=True)):
        for left in j.key:
            if left not in out:
                raise SourceError(
                    f"the join on '{left}' needs that column in the file; it has: " + ", ".join(out[:40]),
                    file=raw,
                )
        clash = [n for n in j.columns if n in out]
        if clash:
            raise SourceError(f"joined column {', '.join(clash)} is already a column of the file", file=raw)
        name = f"{raw}_j{k}"
        right_keys = ", ".join(f"{P.clean_text(P.ident(r))} AS _k{i}" for i, r in enumerate(j.key.values()))
        if group:
            body = _stage_group(con, group, j, name, workdir)
            folds = ", ".join(_fold(n, c) for n, c in j.columns.items())
            groups = ", ".join(f"_k{i}" for i in range(len(j.key)))
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {groups}, {folds} FROM "
                f"(SELECT *, {right_keys} FROM ({body})) GROUP BY {groups}"
            )
        else:
            empty = ", ".join(f"CAST(NULL AS VARCHAR) AS {P.ident(n)}" for n in j.columns)
            keys = ", ".join(f"CAST(NULL AS VARCHAR) AS _k{i}" for i in range(len(j.key)))
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {keys}, {empty} WHERE FALSE")
        match = " AND ".join(f"{P.clean_text('r.' + P.ident(left))} = j._k{i}" for i, left in enumerate(j.key))
        new = ", ".join(f"j.{P.ident(n)}" for n in j.columns)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {raw} AS SELECT r.*, {new} FROM {raw} r LEFT JOIN {name} j ON {match}"
        )
        out += list(j.columns)
    return out
