"""`python -m simulator.cli ...`: the same as `spc ...`."""

from simulator.cli import entry

entry()
