"""Imported by the worker pool's fork server (`multiprocessing` preload, see simulator.live.WorkerPool): the
compiled kernels are loaded there once, so each worker forked from it starts with them instead of loading them
itself (~0.5 s of CPU per worker, while the UI process is busy with its first runs on the same two cores)."""

from simulator.engine._numba import warm

warm()
