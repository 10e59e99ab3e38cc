"""The workspace's cache of decoded pictures, so that scrubbing the timeline stays fast.

A small least-recently-used store keyed by tuples whose second item is the frame index, safe to
share between the GUI thread and the thumbnail threads (no Qt here).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class PictureCache:
    """Up to ``size`` pictures, keyed ``(kind, frame, ...)``; the oldest used goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple, make: Callable[[], np.ndarray | None]) -> np.ndarray | None:
        """The picture under ``key``, made by ``make()`` (outside the lock) and kept when not
        None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        if value is not None:
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value

    def forget(self, frame: int | None = None) -> None:
        """Drop the pictures of ``frame`` (None: all)."""
        with self._lock:
            for k in [k for k in self._items if frame is None or k[1] == frame]:
                del self._items[k]
