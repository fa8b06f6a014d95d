"""`python -m compiler` is the `tfm` command."""

import sys

from .cli import main

sys.exit(main())
