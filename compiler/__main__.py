"""`python -m tfm` is the `tfm` command."""

import sys

from tfm.cli import main

sys.exit(main())
