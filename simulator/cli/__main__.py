"""`python -m simulator.cli ...`: the same as `spc ...`."""

import sys

from simulator.cli import main

sys.exit(main())
