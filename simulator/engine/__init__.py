"""The discrete-event engine: SimPy owns the calendar; customers and staff live in numpy arrays."""
