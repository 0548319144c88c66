"""``python -m replica.report DIR``: the same as ``replica report DIR``."""
import sys

from . import main

sys.exit(main())
