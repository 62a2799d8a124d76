"""The one error hierarchy of channelscope.

Every error says *where* (file, line or row, field) and *what to do*. The CLI turns any
``ChannelscopeError`` into one readable line and exit code 2; tracebacks only with ``--debug``.
"""

from __future__ import annotations


class ChannelscopeError(Exception):
    """Base of every error channelscope raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.row = row
        self.field = field
        self.hint = hint

    def where(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class ConfigError(ChannelscopeError):
    """The project's configuration (YAML, mapping, preset) is wrong."""


class SourceError(ChannelscopeError):
    """A source could not be read (missing file, bad encoding, unreachable URL)."""


class ValidationError(ChannelscopeError):
    """Data failed a rule in a way that cannot be quarantined row by row."""


class WarehouseError(ChannelscopeError):
    """The warehouse could not be opened or written."""


class WriterBusyError(WarehouseError):
    """Another process owns the warehouse for writing (DESIGN rule 8)."""


class QueryError(ChannelscopeError):
    """A KPI query named an unknown metric, dimension or grain."""
