"""A bar chart drawn on the server as SVG geometry (no chart library, no script).

The template draws one <rect> per bar from these numbers; the same figures are in a
table beside it, which is what screen readers and keyboard users read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, GAP = 600, 160, 2


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    value: int


def bars(values: Sequence[int], width: int = WIDTH, height: int = HEIGHT) -> list[Bar]:
    """One bar per value, scaled to the largest; a bar of a non-zero value is at least
    1 unit high, so a small day still shows."""
    if not values:
        return []
    top = max(*values, 1)
    step = width // len(values)
    drawn = []
    for i, value in enumerate(values):
        tall = 0 if value <= 0 else max(1, value * height // top)
        drawn.append(Bar(i * step, height - tall, max(1, step - GAP), tall, value))
    return drawn


def peaks(values: Sequence[int], limit: int) -> tuple[int, list[int]]:
    """(group size, the largest value of each group): at most `limit` bars for a long
    series, each as high as the busiest point it stands for, so a peak never flattens."""
    size = max(1, -(-len(values) // max(1, limit)))  # ceiling division
    return size, [max(values[i : i + size]) for i in range(0, len(values), size)]
