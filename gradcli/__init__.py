"""gradcli: see a derivative and check it through independent backends.

The command-line interface lives in :mod:`gradcli.cli`; this package root stays
light (no numpy, no torch) so that ``gradcli --help`` starts fast.
"""

__version__ = "0.1.0"
