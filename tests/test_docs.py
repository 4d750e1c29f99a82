"""The documentation matches the code: the architecture page lists exactly the package's
modules, its diagram names every subpackage, the docs point at no file outside the
repository, and the public API is fully annotated."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import exactnet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

import modules_table  # noqa: E402


def test_architecture_page_holds_the_generated_module_table():
    page = (ROOT / "docs" / "architecture.md").read_text()
    assert modules_table.page_with_table(page) == page, "run: python docs/modules_table.py --write"
    listed = set(re.findall(r"^\| `(exactnet/[^`]+\.py)` \|", page, re.M))
    actual = {p.relative_to(ROOT).as_posix() for p in (ROOT / "exactnet").rglob("*.py")}
    assert listed == actual


def test_every_module_has_a_docstring():
    missing = [p for p in (ROOT / "exactnet").rglob("*.py") if not modules_table.first_sentence(p)]
    assert not missing


def test_architecture_diagram_names_every_subpackage():
    page = (ROOT / "docs" / "architecture.md").read_text()
    diagram = page.split("```")[1]
    subpackages = [
        p.parent.relative_to(ROOT / "exactnet").as_posix() for p in (ROOT / "exactnet").glob("*/__init__.py")
    ]
    for sub in subpackages:
        if sub == "data":
            continue
        assert f"exactnet.{sub}" in diagram, sub


def test_docs_do_not_point_outside_the_repository():
    texts = [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "proofs").glob("*"),
        *(ROOT / "exactnet").rglob("*.py"),
    ]
    for path in texts:
        if path.is_file():
            assert "../shared" not in path.read_text(), path


def test_pictures_the_docs_show_are_in_the_repository():
    """Every image or file a docs page links to (img/...) exists and is tracked by git,
    not ignored (a *.png rule once kept the docs' pictures out of every clone)."""
    import subprocess

    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\((img/[^)\s]+)\)", page.read_text()):
            path = page.parent / target
            assert path.is_file(), f"{page.name} links to {target}, which does not exist"
            ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT).returncode == 0
            assert not ignored, f"{target} is ignored by .gitignore, so it would be missing from every clone"


def test_every_example_is_in_the_index_and_tested_with_quick():
    """docs/examples.md lists every script of examples/ (and nothing else), and
    tests/test_examples.py runs each of them with --quick."""
    page = (ROOT / "docs" / "examples.md").read_text()
    tests = (ROOT / "tests" / "test_examples.py").read_text()
    scripts = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
    assert sorted(set(re.findall(r"^\| `([a-z0-9_]+\.py)`", page, re.M))) == scripts
    for name in scripts:
        source = (ROOT / "examples" / name).read_text()
        # --help prints the whole docstring: the setting, the arguments, what the tables hold
        assert "ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)" in source
        argvs = re.findall(r'\["' + re.escape(name) + r'"(, [^\]]*)?\]', tests)
        assert any('"--quick"' in a for a in argvs), f"no test runs examples/{name} with --quick"


def test_documentation_site_builds_and_opens_in_headless_chromium(tmp_path, browser):
    """mkdocs builds the site with --strict (as CI does), and every page loads in a real
    browser with its pictures decoded, no console error and no request beyond the site
    (no web fonts: the site works offline)."""
    import shutil
    import subprocess

    if shutil.which("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[test]')")
    site = tmp_path / "site"
    build = subprocess.run(
        ["mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr[-2000:]
    pages = sorted(site.glob("*/index.html")) + [site / "index.html"]
    names = {p.parent.name for p in pages}
    assert {"regions", "theory", "pulse", "affinity", "examples", "api"} <= names
    pictures = 0
    for page in pages:
        images, problems, content = browser.open(page)
        assert all(done and width > 0 for done, width in images), (page, images)
        assert not problems, (page, problems)
        pictures += len(images)
    assert pictures >= 25
    api = (site / "api" / "index.html").read_text()
    assert "segment_regions_batch" in api and "minimal_neurons" in api  # mkdocstrings rendered the docstrings


def _public_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(exactnet.__path__, "exactnet.")]
    return ["exactnet"] + [n for n in names if not any(part.startswith("_") for part in n.split(".")[1:])]


def _missing_annotations(qualname: str, func) -> list[str]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    out = [
        f"{qualname}: parameter {p.name}"
        for p in sig.parameters.values()
        if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
    ]
    if sig.return_annotation is inspect.Signature.empty and not qualname.endswith("__init__"):
        out.append(f"{qualname}: return")
    return out


def test_public_api_is_fully_annotated():
    """Every function and class in a public module's ``__all__`` (methods, properties and
    ``__init__`` of classes included) annotates every parameter and its return value."""
    missing = []
    for name in _public_modules():
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if getattr(obj, "__module__", name) != name:
                continue  # checked where it is defined
            if inspect.isfunction(obj):
                missing += _missing_annotations(f"{name}.{attr}", obj)
            elif inspect.isclass(obj) and not getattr(obj, "_is_protocol", False):
                for key, value in vars(obj).items():
                    if key.startswith("_") and key != "__init__":
                        continue
                    if isinstance(value, (staticmethod, classmethod)):
                        value = value.__func__
                    if isinstance(value, property):
                        value = value.fget
                    value = getattr(value, "func", value)  # functools.cached_property
                    if inspect.isfunction(value):
                        missing += _missing_annotations(f"{name}.{attr}.{key}", value)
    assert not missing, "\n".join(missing)
