"""``python -m chainrule_cli``: the ``chainrule`` command."""

import sys

from .main import main

sys.exit(main())
