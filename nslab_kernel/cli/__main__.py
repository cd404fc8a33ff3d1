"""``python -m nslab_kernel.cli``: the same as the ``nslab`` command."""

import sys

from .main import main

sys.exit(main())
