"""The command line's value types: one family every command's argparse uses.

Each is an argparse ``type=`` callable that raises ``argparse.ArgumentTypeError`` with a message
a colourist understands; :class:`Parser` turns every usage error into :class:`UsageError` (an
:class:`~opdm_studio.errors.OPDMError`), so the command prints one line and exits 2 instead of
argparse's usage block, and never a traceback.

- :func:`positive_int` / :func:`count` (>= 0) / :func:`int_in` (a closed range);
- :func:`positive_float` (finite, > 0) / :func:`float_in` (finite, in a range);
- :func:`int_list` (``8,16``: positive, strictly increasing when asked), :func:`int_pair`
  (``2,16``: a range), :func:`multiple_of` (sizes the network needs: multiples of 16);
- :func:`size` (``WxH`` with a pixel budget);
- :class:`FrameRanges` / :func:`frame_ranges` (``2-23`` or ``1-4,9``): kept as spans, never
  expanded, and bounded by the cut (:meth:`FrameRanges.pick`), so ``0-99999999999`` costs
  nothing.

Standard library only: every layer's command may use it.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opdm_studio.errors import OPDMError

__all__ = ["FrameRanges", "Parser", "UsageError", "choice_list", "count", "float_in", "frame_ranges",
           "int_in", "int_list", "int_pair", "multiple_of", "positive_float", "positive_int",
           "size"]

# No number a command takes is near this: a bound that keeps "1e400" and 10**100 out.
_INT_LIMIT = 10**12


class UsageError(OPDMError):
    """Wrong command-line arguments."""


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing its usage and exiting 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Raise the usage error as one line pointing at ``--help``."""
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _int(text: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if abs(value) > _INT_LIMIT:
        raise argparse.ArgumentTypeError(f"{text} is far too large")
    return value


def int_in(lo: int | None, hi: int | None, what: str = "the value") -> Callable[[str], int]:
    """A whole number in ``[lo, hi]`` (either end open when None)."""
    def parse(text: str) -> int:
        value = _int(text)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if hi is None:
                bound = f"at least {lo}"
            elif lo is None:
                bound = f"at most {hi}"
            else:
                bound = f"from {lo} to {hi}"
            raise argparse.ArgumentTypeError(f"{what} must be {bound}, not {text}")
        return value
    parse.__name__ = "whole number"
    return parse


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    return int_in(1, None, "it")(text)


def count(text: str) -> int:
    """A whole number >= 0."""
    return int_in(0, None, "it")(text)


def float_in(lo: float | None, hi: float | None, what: str = "the value", *,
             open_lo: bool = False, open_hi: bool = False) -> Callable[[str], float]:
    """A finite number in ``[lo, hi]`` (``open_lo`` / ``open_hi`` exclude that end)."""
    def parse(text: str) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{what} must be a finite number, not {text}")
        low_bad = lo is not None and (value <= lo if open_lo else value < lo)
        high_bad = hi is not None and (value >= hi if open_hi else value > hi)
        if low_bad or high_bad:
            parts = []
            if lo is not None:
                parts.append(f"{'above' if open_lo else 'at least'} {lo:g}")
            if hi is not None:
                parts.append(f"{'below' if open_hi else 'at most'} {hi:g}")
            raise argparse.ArgumentTypeError(f"{what} must be {' and '.join(parts)}, not {text}")
        return value
    parse.__name__ = "number"
    return parse


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return float_in(0.0, None, "it", open_lo=True)(text)


def int_list(lo: int = 1, hi: int | None = None, increasing: bool = False) -> Callable[[str], list[int]]:
    """Comma-separated whole numbers in ``[lo, hi]`` (``8,16``), strictly increasing if asked."""
    one = int_in(lo, hi, "each number")

    def parse(text: str) -> list[int]:
        values = [one(x) for x in str(text).split(",") if x.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r} holds no number")
        if increasing and any(b <= a for a, b in zip(values, values[1:], strict=False)):
            raise argparse.ArgumentTypeError(f"{text} must run upwards, e.g. "
                                             f"{','.join(str(v) for v in sorted(set(values)))}")
        return values
    parse.__name__ = "list of numbers"
    return parse


def multiple_of(step: int, lo: int, hi: int, what: str, zero: str | None = None,
                ) -> Callable[[str], int]:
    """A whole number in ``[lo, hi]`` that is a multiple of ``step``; also 0 when ``zero`` says
    what 0 means (e.g. "the model's size")."""
    def parse(text: str) -> int:
        value = _int(text)
        if value == 0 and zero is not None:
            return 0
        if not lo <= value <= hi or value % step:
            also = f" (or 0 for {zero})" if zero is not None else ""
            raise argparse.ArgumentTypeError(
                f"{what} must be a multiple of {step} from {lo} to {hi}{also}, not {text}")
        return value
    parse.__name__ = "whole number"
    return parse


def int_pair(lo: int, hi: int, what: str, example: str) -> Callable[[str], tuple[int, int]]:
    """``A,B``: two whole numbers in ``[lo, hi]`` with A <= B (``--gap 2,16``)."""
    one = int_in(lo, hi, f"each number of {what}")

    def parse(text: str) -> tuple[int, int]:
        parts = [x for x in str(text).split(",")]
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"{what} {text!r}: expected two numbers like {example}")
        a, b = one(parts[0]), one(parts[1])
        if b < a:
            raise argparse.ArgumentTypeError(f"{what} {text} runs backwards: write it as {b},{a}")
        return a, b
    parse.__name__ = "pair"
    return parse


def choice_list(choices: tuple[str, ...], what: str) -> Callable[[str], list[str]]:
    """Comma-separated names, each one of ``choices`` (``--methods flow,opdm``)."""
    def parse(text: str) -> list[str]:
        names = [x.strip() for x in str(text).split(",") if x.strip()]
        bad = [x for x in names if x not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"{what}: unknown {', '.join(bad) or repr(text)}; use one or more of "
                f"{','.join(choices)}")
        return names
    parse.__name__ = "list of names"
    return parse


def size(min_side: int = 16, max_pixels: int = 8192 * 8192) -> Callable[[str], tuple[int, int]]:
    """``WxH`` in pixels, each side at least ``min_side``, the area at most ``max_pixels``."""
    def parse(text: str) -> tuple[int, int]:
        w_text, sep, h_text = str(text).lower().strip().partition("x")
        try:
            w, h = int(w_text), int(h_text)
        except ValueError:
            w = h = -1
        if not sep or w <= 0 or h <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a size: write WIDTHxHEIGHT, "
                                             "e.g. 1920x1080")
        if min(w, h) < min_side:
            raise argparse.ArgumentTypeError(f"{text} is too small: each side at least {min_side} px")
        if w * h > max_pixels:
            raise argparse.ArgumentTypeError(
                f"{text} is too large: at most {max_pixels / 1e6:.0f} megapixels")
        return w, h
    parse.__name__ = "size"
    return parse


@dataclass(frozen=True)
class FrameRanges:
    """Frame numbers as the user wrote them (``2-23``, ``1-4,9``): spans, never expanded."""

    text: str
    spans: tuple[tuple[int, int], ...]

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and any(lo <= number <= hi for lo, hi in self.spans)

    def pick(self, numbers: Iterable[int], what: str = "the cut") -> list[int]:
        """Positions in ``numbers`` (a cut's frame numbers) that the ranges name, in order;
        :class:`UsageError` when none does, naming the numbers ``what`` runs from and to."""
        numbers = list(numbers)
        picked = [i for i, n in enumerate(numbers) if n in self]
        if not picked:
            span = f"from {min(numbers)} to {max(numbers)}" if numbers else "empty"
            raise UsageError(f"no frame of {what} is numbered {self.text} ({what} runs {span})")
        return picked


def frame_ranges(text: str) -> FrameRanges:
    """Parse ``"2-23"``, ``"5"`` or ``"1-4,9,12-14"`` (argparse type)."""
    spans: list[tuple[int, int]] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        a, sep, b = part.partition("-")
        try:
            lo = int(a)
            hi = int(b) if sep else lo
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"frame range {text!r} is not valid: use e.g. 2-23 or 1-4,9") from None
        if hi < lo:
            raise argparse.ArgumentTypeError(f"frame range {part!r} runs backwards: write it as "
                                             f"{hi}-{lo}")
        spans.append((lo, hi))
    if not spans:
        raise argparse.ArgumentTypeError(f"frame range {text!r} is empty")
    return FrameRanges(str(text), tuple(spans))
