"""``python -m neuromem`` runs the ``neuromem`` command."""

import sys

from neuromem.cli import main

sys.exit(main())
