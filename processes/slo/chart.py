"""The error-budget burn-down chart: budget remaining over the rolling window, as a PNG.

Rendered on a worker (inside a task) with matplotlib's Agg backend, so no display is needed and
the bytes are journaled once; replays reuse them.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime


def burn_down_png(points: list[tuple[float, float]], *, title: str, target: float, window: str) -> bytes:
    """A line of budget remaining (percent of the budget) against time; 0% is the line not to cross."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    times = [datetime.fromtimestamp(t, tz=UTC) for t, _ in points]
    remaining = [100 * v for _, v in points]
    figure, axes = plt.subplots(figsize=(8, 4), dpi=100)
    try:
        # matplotlib converts datetimes itself (matplotlib.dates); its type stubs accept only numbers.
        axes.plot(times, remaining, color="#1f77b4", linewidth=2, label="budget remaining")  # type: ignore[arg-type]
        axes.axhline(0, color="#d62728", linewidth=1, linestyle="--", label="budget exhausted")
        axes.fill_between(times, remaining, 0, where=[r < 0 for r in remaining],  # type: ignore[arg-type]
                          color="#d62728", alpha=0.2)
        axes.set_ylabel(f"% of error budget left ({window} window)")
        axes.set_title(f"{title} — target {target:g}%")
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower left")
        low = min([*remaining, 0.0])
        axes.set_ylim(min(low * 1.1, -5.0), 105)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(figure)
