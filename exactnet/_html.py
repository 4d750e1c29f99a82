"""Small HTML pieces shared by the notebook displays (``_repr_html_``) of the result types
and by the report: tables with numbers formatted and text escaped, and matplotlib
figures embedded as PNG data URIs."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

__all__ = ["figure_png", "figure_tag", "table_html"]


def figure_png(fig: Any, dpi: int = 90) -> str:
    """A matplotlib figure as a PNG data URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure_tag(fig: Any, alt: str, dpi: int = 80) -> str:
    """An ``<img>`` of a matplotlib figure (embedded; the figure is closed)."""
    return f'<img src="{figure_png(fig, dpi)}" alt="{html.escape(alt)}" style="max-width: 100%">'


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.4g}"
    if value is None:
        return "-"
    return html.escape(str(value))


def table_html(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None, css: str = "") -> str:
    """An HTML table of ``rows`` (floats to 4 significant digits, NaN and None as "-",
    text escaped)."""
    parts = [f'<table class="{css}">' if css else "<table>"]
    if header is not None:
        parts.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
    parts.append("</table>")
    return "".join(parts)
