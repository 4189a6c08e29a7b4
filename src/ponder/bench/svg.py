"""A tiny inline-SVG chart: linear or log axes, lines, step lines, points, markers, legend.

Just enough for the bench report; every chart is a self-contained ``<svg>`` string.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _log_ticks(low: float, high: float) -> list[float]:
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for m in (1, 2, 5):
            value = m * 10.0**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.0e}"
    return f"{value:g}"


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_log: bool = False
    width: int = 560
    height: int = 340
    parts: list[str] = field(default_factory=list)
    legend: list[tuple[str, str, bool]] = field(default_factory=list)

    margin_left = 58
    margin_right = 16
    margin_top = 34
    margin_bottom = 46

    def _x(self, value: float) -> float:
        low, high = self.x_range
        if self.x_log:
            value = max(value, low)
            fraction = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
        else:
            fraction = (value - low) / (high - low) if high > low else 0.5
        return self.margin_left + fraction * (self.width - self.margin_left - self.margin_right)

    def _y(self, value: float) -> float:
        low, high = self.y_range
        fraction = (value - low) / (high - low) if high > low else 0.5
        plot_h = self.height - self.margin_top - self.margin_bottom
        return self.height - self.margin_bottom - fraction * plot_h

    def line(
        self,
        points: Sequence[tuple[float, float]],
        stroke: str,
        label: str | None = None,
        dashed: bool = False,
        step: bool = False,
    ) -> None:
        if not points:
            return
        coords: list[tuple[float, float]] = []
        for i, (x, y) in enumerate(points):
            if step and i > 0:
                coords.append((self._x(x), self._y(points[i - 1][1])))
            coords.append((self._x(x), self._y(y)))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        self.parts.append(
            f'<polyline fill="none" stroke="{stroke}" stroke-width="2"{dash} points="{path}"/>'
        )
        if label:
            self.legend.append((label, stroke, False))

    def point(
        self, x: float, y: float, fill: str, label: str | None = None, radius: float = 5
    ) -> None:
        cx, cy = self._x(x), self._y(y)
        self.parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius}" fill="{fill}" stroke="white"/>'
        )
        if label:
            self.parts.append(
                f'<text x="{cx + radius + 3:.1f}" y="{cy + 4:.1f}" font-size="11"'
                f' fill="{fill}">{escape(label)}</text>'
            )

    def vline(self, x: float, stroke: str, label: str, label_row: int = 0) -> None:
        """A dashed vertical marker; ``label_row`` stacks labels (0 = top, 1 = below it...)."""
        px = self._x(x)
        top, bottom = self.margin_top, self.height - self.margin_bottom
        anchor = "end" if px > (self.width + self.margin_left) / 2 else "start"
        tx = px - 4 if anchor == "end" else px + 4
        ty = top + 12 + 14 * label_row
        self.parts.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{bottom}" stroke="{stroke}"'
            ' stroke-dasharray="3 3"/>'
            f'<text x="{tx:.1f}" y="{ty}" font-size="11" fill="{stroke}" text-anchor="{anchor}">'
            f"{escape(label)}</text>"
        )

    def legend_entry(self, label: str, stroke: str) -> None:
        self.legend.append((label, stroke, True))

    def render(self) -> str:
        w, h = self.width, self.height
        left, bottom = self.margin_left, h - self.margin_bottom
        right, top = w - self.margin_right, self.margin_top
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}"'
            f' height="{h}" role="img" aria-label="{escape(self.title)}"'
            ' font-family="system-ui, sans-serif">',
            f'<text x="{w / 2:.0f}" y="18" text-anchor="middle" font-size="14"'
            f' font-weight="600">{escape(self.title)}</text>',
        ]
        x_ticks = _log_ticks(*self.x_range) if self.x_log else _nice_ticks(*self.x_range)
        for tick in x_ticks:
            px = self._x(tick)
            out.append(
                f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{bottom}" stroke="#e5e7eb"/>'
                f'<text x="{px:.1f}" y="{bottom + 15}" text-anchor="middle" font-size="11">'
                f"{_label(tick)}</text>"
            )
        for tick in _nice_ticks(*self.y_range):
            py = self._y(tick)
            out.append(
                f'<line x1="{left}" x2="{right}" y1="{py:.1f}" y2="{py:.1f}" stroke="#e5e7eb"/>'
                f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">'
                f"{_label(tick)}</text>"
            )
        out.append(
            f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"'
            ' fill="none" stroke="#9ca3af"/>'
        )
        out.append(
            f'<text x="{(left + right) / 2:.0f}" y="{h - 8}" text-anchor="middle"'
            f' font-size="12">{escape(self.x_label)}</text>'
        )
        out.append(
            f'<text transform="translate(14 {(top + bottom) / 2:.0f}) rotate(-90)"'
            f' text-anchor="middle" font-size="12">{escape(self.y_label)}</text>'
        )
        out.extend(self.parts)
        for i, (label, stroke, dot) in enumerate(self.legend):
            y = top + 14 + i * 16
            mark = (
                f'<circle cx="{right - 110}" cy="{y - 4}" r="4" fill="{stroke}"/>'
                if dot
                else f'<line x1="{right - 118}" x2="{right - 102}" y1="{y - 4}" y2="{y - 4}"'
                f' stroke="{stroke}" stroke-width="2"/>'
            )
            out.append(
                f'{mark}<text x="{right - 96}" y="{y}" font-size="11">{escape(label)}</text>'
            )
        out.append("</svg>")
        return "".join(out)
