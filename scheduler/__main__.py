"""``python -m scheduler``: run the scheduler daemon without Django."""

import sys

from .cli import main

sys.exit(main())
