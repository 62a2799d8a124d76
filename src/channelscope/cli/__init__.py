"""The command line: thin over ``Project``."""

from channelscope.cli.app import app, main

__all__ = ["app", "main"]
