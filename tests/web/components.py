"""Shared helpers for the in-process page tests: walk a rendered Dash component tree."""

from __future__ import annotations

from collections.abc import Iterator


def walk(component: object) -> Iterator[object]:
    """Every component of a rendered tree, in page order (lists and tuples are walked through)."""
    if isinstance(component, list | tuple):
        for c in component:
            yield from walk(c)
        return
    yield component
    children = getattr(component, "children", None)
    if children is not None:
        yield from walk(children)


def component_ids(component: object) -> set[str]:
    """The string ids of every component of the tree."""
    return {cid for c in walk(component) if isinstance(cid := getattr(c, "id", None), str)}


def find(component: object, id_: str) -> object | None:
    """The first component with id ``id_`` (None when the page has none)."""
    return next((c for c in walk(component) if getattr(c, "id", None) == id_), None)


def find_all(component: object, prefix: str, suffix: str) -> list:
    """Every component whose id starts with ``prefix`` and ends with ``suffix``, in page order."""
    return [
        c
        for c in walk(component)
        if isinstance(cid := getattr(c, "id", None), str) and cid.startswith(prefix) and cid.endswith(suffix)
    ]
