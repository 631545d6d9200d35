"""`python -m factvae.cli`: the `factvae` command."""

import sys

from ._main import main

sys.exit(main())
