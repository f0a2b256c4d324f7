"""``python -m sandbox --port 8080``."""

import sys

from sandbox.cli import main

sys.exit(main())
