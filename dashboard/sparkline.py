"""Small server-drawn SVG line charts: the check page's latency and the status page's sparklines.

Drawn on the server so they show without JavaScript (the status page is public and
light); the template writes the SVG, this only computes coordinates.
"""

from __future__ import annotations

from typing import Any


def sparkline(points: list[tuple[int, float | None]], width: int = 120, height: int = 24) -> dict[str, Any]:
    """Polylines (a new one after each missing value) scaled into width by height, 0 at the bottom.

    Returns {"width", "height", "lines": ["x,y x,y …", …], "max": the top of the scale or None}.
    """
    values = [v for _, v in points if v is not None]
    if not values:
        return {"width": width, "height": height, "lines": [], "max": None}
    top = max(values) or 1.0
    first, last = points[0][0], points[-1][0]
    spread = (last - first) or 1
    lines: list[list[str]] = [[]]
    for t, value in points:
        if value is None:
            if lines[-1]:
                lines.append([])
            continue
        x = (t - first) / spread * (width - 2) + 1
        y = height - 1 - value / top * (height - 2)
        lines[-1].append(f"{x:.1f},{y:.1f}")
    # A lone point draws nothing as a polyline: double it so it shows as a dot.
    drawn = [" ".join(line if len(line) > 1 else line * 2) for line in lines if line]
    return {"width": width, "height": height, "lines": drawn, "max": top}
