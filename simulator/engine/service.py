"""Exact FCFS multi-server queue with abandonment, without a Python generator per contact.

With identical servers and first-come-first-served order, the n-th contact starts at
max(arrival, earliest time a server frees up); a contact whose wait would exceed its patience
abandons and never occupies a server. So a heap of server free times replaces the event list:
one heap operation per contact, which is what makes it ~20x faster than a SimPy process per contact
while giving the same sample path as one.
"""

from __future__ import annotations

import heapq
import math

import numpy as np


class FCFSServers:
    """c identical servers, persistent across calls so the queue carries over between network steps."""

    def __init__(self, servers: int, now: float = 0.0):
        self._free: list[float] = [now] * max(0, servers)

    @property
    def servers(self) -> int:
        return len(self._free)

    def set_servers(self, servers: int, now: float) -> None:
        """Change capacity at `now`: new servers are free at once; removed ones are those busy longest."""
        servers = max(0, servers)
        if servers > len(self._free):
            for _ in range(servers - len(self._free)):
                heapq.heappush(self._free, now)
        elif servers < len(self._free):
            self._free = sorted(self._free)[:servers]
            heapq.heapify(self._free)

    def serve(self, arrivals: np.ndarray, handles: np.ndarray, patiences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contacts sorted by arrival -> (exit from queue, served?). Exit is service start or abandonment."""
        free = self._free
        n = len(arrivals)
        replace = heapq.heapreplace
        if not free:  # nobody to answer: every contact is lost after its patience (at once if it has none)
            exits_arr = arrivals + np.where(np.isfinite(patiences), patiences, 0.0)
            return exits_arr, np.zeros(n, dtype=bool)
        # An abandonment is stored as -(exit time): exits are >= 0, so the sign bit alone marks it
        # (-0.0 included), which keeps the loop to one append per contact.
        exits: list[float] = []
        record = exits.append
        for a, h, p in zip(arrivals.tolist(), handles.tolist(), patiences.tolist(), strict=True):
            f = free[0]
            if f <= a:
                replace(free, a + h)
                record(a)
            elif f - a <= p:
                replace(free, f + h)
                record(f)
            else:
                record(-(a + p))
        signed = np.asarray(exits, dtype=float)
        return np.abs(signed), ~np.signbit(signed)


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> tuple[float, float]:
    """Erlang C: P(wait) and mean wait in queue Wq for M/M/c (used by validation tests and bench)."""
    a = arrival_rate / service_rate
    rho = a / servers
    if rho >= 1:
        return 1.0, math.inf
    term = 1.0
    total = 1.0
    for k in range(1, servers):
        term *= a / k
        total += term
    last = term * a / servers / (1 - rho)
    p_wait = last / (total + last)
    return p_wait, p_wait / (servers * service_rate - arrival_rate)
