"""Sphinx configuration: numpydoc, sphinx-gallery, the pydata theme; offline."""

import sys
from pathlib import Path

import sklearn_losses

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "sklearn_losses"
author = "The sklearn_losses developers"
release = version = sklearn_losses.__version__
copyright = "2026, The sklearn_losses developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "matplotlib.sphinxext.plot_directive",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
autosummary_generate = True
templates_path = ["_templates"]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Docstrings are checked by tests/test_docstrings.py with numpydoc.validate.
numpydoc_validation_checks = set()
# Offline build: no intersphinx, no remote images or fonts from the theme.
html_theme = "pydata_sphinx_theme"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_title = f"sklearn_losses {release}"
html_static_path = []
plot_html_show_source_link = False
plot_html_show_formats = False
plot_include_source = False
suppress_warnings = ["myst.header"]

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
}
