"""Upcasters: the steps that bring an event stored at an old schema version to the current one,
so stored history never has to be rewritten."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_upcasters: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the step that turns `event_type` at `from_version` into `from_version + 1`."""

    def register(func: Upcaster) -> Upcaster:
        _upcasters[(event_type, from_version)] = func
        return func

    return register


def upcast(event_type: str, version: int, payload: dict[str, Any], target: int) -> dict[str, Any]:
    """`payload`, stored at schema `version`, brought step by step to `target`."""
    while version < target:
        try:
            step = _upcasters[(event_type, version)]
        except KeyError:
            raise LookupError(
                f"no upcaster for {event_type} from schema version {version}"
            ) from None
        payload = step(payload)
        version += 1
    return payload
