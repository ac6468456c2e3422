"""Sphinx configuration: the dualfd API reference (numpydoc + autosummary).

Build (no network needed):  sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import re

import dualfd

project = "dualfd"
author = "the dualfd developers"
copyright = "2026, the dualfd developers"
version = release = dualfd.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "generated/*.md"]
templates_path = ["_templates"]

# No intersphinx: the build must not fetch anything.  Plain-text references to
# NumPy/SciPy names stay text instead of becoming (unresolvable) links.
default_role = "obj"  # `name` in docstrings: a cross-reference where one resolves

autosummary_generate = True
autosummary_imported_members = True
# numpydoc's own member tables would need stub pages of their own; the class
# template (_templates/autosummary/class.rst) lists the members instead.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# Docstrings refer to parameters as `x`, `f`: not cross-references.
nitpicky = False

# Headings of the included README get anchors, so its in-page links resolve.
myst_heading_anchors = 3


# README links to repository files (benchmarks/README.md) have no page in these docs:
# show them as file names, which is what they are here.
_REPO_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:|#)([^)\s]+)\)")


def _repo_links_as_paths(app, relative_path, parent_docname, content):
    if relative_path.name == "README.md":
        content[0] = _REPO_LINK.sub(
            lambda m: f"`{m[2]}`" if m[1] == m[2] else f"{m[1]} (`{m[2]}`)", content[0])


def setup(app):
    app.connect("include-read", _repo_links_as_paths)


html_theme = "alabaster"
html_static_path = []
html_title = f"dualfd {release}"
