"""`python -m bot` is `liquidbook`."""

import sys

from bot.cli import main

sys.exit(main())
