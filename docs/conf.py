"""Sphinx configuration of chainrule's documentation site (``make docs`` builds it into docs/_build/html).

The course pages are the notebooks, rendered with the outputs they are committed with, so the
build runs no notebook and needs no network. They are copied into ``docs/course/`` (not
committed) so that links between them and from these pages resolve inside the site.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # autodoc imports the packages from this checkout


def copy_the_course(notebooks: Path, course: Path) -> None:
    """The notebooks of ``notebooks`` in ``course``, each copied only when it changed (so Sphinx
    rebuilds only its page), and no page left for a notebook that is gone."""
    course.mkdir(exist_ok=True)
    wanted = {n.name: n for n in notebooks.glob("[0-9]*.ipynb")}
    for stale in course.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for name, notebook in wanted.items():
        copy = course / name
        if not copy.exists() or copy.read_bytes() != notebook.read_bytes():
            shutil.copyfile(notebook, copy)


copy_the_course(ROOT / "notebooks", Path(__file__).resolve().parent / "course")

import autograd  # noqa: E402

project = "chainrule"
author = "chainrule's authors"
copyright = "chainrule's authors, MIT licence"  # noqa: A001 (Sphinx's name for it)
release = version = autograd.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# the notebooks are rendered with their committed outputs: tests/test_notebooks.py keeps those
# outputs equal to a fresh run, and running them here would add about 45 s and a kernel
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the docstrings say what each argument is; `Any` everywhere would be noise
autodoc_preserve_defaults = True

html_theme = "sphinx_book_theme"
html_title = "chainrule"
html_logo = None
html_static_path: list[str] = []
html_theme_options = {
    "repository_url": "",
    "use_repository_button": False,
    "show_toc_level": 2,
}
html_context = {"default_mode": "light"}  # the drawings and the explorer are drawn for a light page
# Sphinx adds MathJax (from its CDN) only to a page with TeX mathematics; no page has any, and
# scripts/check_docs.py fails the build's check if a page ever loads anything from another host
