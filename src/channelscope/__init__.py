"""channelscope: the data-analysis loop of a brand that sells through many e-commerce channels."""

from channelscope.errors import (
    ChannelscopeError,
    ConfigError,
    QueryError,
    SourceError,
    ValidationError,
    WarehouseError,
    WriterBusyError,
)
from channelscope.project import Project

__version__ = "0.1.0"

__all__ = [
    "ChannelscopeError",
    "ConfigError",
    "Project",
    "QueryError",
    "SourceError",
    "ValidationError",
    "WarehouseError",
    "WriterBusyError",
    "__version__",
]
