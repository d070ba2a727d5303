from __future__ import annotations

import sys

from test_framework.cli import main

sys.exit(main())
