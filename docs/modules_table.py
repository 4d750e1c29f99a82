"""The module table of docs/architecture.md, generated from the package itself.

``python docs/modules_table.py`` prints the table (every module of ``exactnet`` with the
first sentence of its docstring); ``--write`` puts it into docs/architecture.md between
the markers. tests/test_docs.py checks that the page holds exactly this table.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
START, END = "<!-- modules:start -->", "<!-- modules:end -->"


def first_sentence(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    text = " ".join(doc.split())
    end = text.find(". ")
    sentence = text if end < 0 else text[: end + 1]
    return sentence.replace("|", "\\|")


def table() -> str:
    rows = ["| module | what it holds |", "|---|---|"]
    for path in sorted((ROOT / "exactnet").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        rows.append(f"| `{rel}` | {first_sentence(path)} |")
    return "\n".join(rows)


def page_with_table(page: str) -> str:
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    if "--write" in sys.argv:
        PAGE.write_text(page_with_table(PAGE.read_text()))
    else:
        print(table())
