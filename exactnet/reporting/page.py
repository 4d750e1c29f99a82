"""A self-contained HTML page: sections, tables, figures embedded as PNG data URIs, and
definition notes; no script, no stylesheet or image loaded from anywhere else."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from .._html import figure_png, table_html

__all__ = ["Page"]

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 0.8em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.note { font-size: 0.85em; color: #555; background: #f8f8f8; border-left: 3px solid #bbb;
        padding: 0.3em 0.8em; margin: 0.5em 0; }
.skip { color: #8a5a00; } .summary td:first-child { font-weight: 600; }
"""


class Page:
    """An HTML page built section by section (:meth:`render` gives the text)."""

    def __init__(self, title: str):
        self.title = title
        self.body: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        #: added to every section's heading level (1 inside a part of a report on several models)
        self.depth = 0

    def heading(self, text: str, level: int = 2) -> None:
        level = min(6, level + self.depth)
        self.body.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css: str = "") -> None:
        cls = f' class="{css}"' if css else ""
        self.body.append(f"<p{cls}>{html.escape(text)}</p>")

    def note(self, text: str) -> None:
        """A definition or a caveat, set apart."""
        self.body.append(f'<div class="note">{html.escape(text)}</div>')

    def table(self, rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None, css: str = "") -> None:
        self.body.append(table_html(rows, header, css))

    def figure(self, fig: Any, caption: str, dpi: int = 90) -> None:
        """Embed a matplotlib figure (closed afterwards)."""
        uri = figure_png(fig, dpi)
        self.body.append(
            f'<figure><img src="{uri}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
            "</figcaption></figure>"
        )

    def render(self) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(self.body)
            + "\n</body></html>\n"
        )
