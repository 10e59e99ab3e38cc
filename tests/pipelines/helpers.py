"""What the pipeline tests share."""
from __future__ import annotations

from collections.abc import Generator
from typing import Any


def drain(gen: Generator[Any, None, Any]) -> tuple[Any, list[Any]]:
    """Run a generator to its end: (its return value, everything it yielded)."""
    yielded = []
    while True:
        try:
            yielded.append(next(gen))
        except StopIteration as stop:
            return stop.value, yielded
