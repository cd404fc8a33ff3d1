"""Layer 7, cli: the ``nslab`` command line, one module per command group.

``main`` (the console script ``nslab``, and ``python -m nslab_kernel.cli``) builds the
parser from each group's ``add_cli`` and turns nslab's errors into one line and an
exit status.  Imports from every layer below.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
