"""Random streams: one numpy Generator per purpose, spawned from SeedSequence((seed, replication)).

Every strategy of a replication gets the same streams, so it sees the same customers and draws wherever
its decisions agree with the others' (common random numbers). No global random state is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PURPOSES: tuple[str, ...] = (
    "contacts", "handling", "patience", "experience", "purchases", "churn", "acquisition", "referrals", "employees",
    "dispositions",
)


@dataclass(frozen=True)
class Streams:
    contacts: np.random.Generator
    handling: np.random.Generator
    patience: np.random.Generator
    experience: np.random.Generator
    purchases: np.random.Generator
    churn: np.random.Generator
    acquisition: np.random.Generator
    referrals: np.random.Generator
    employees: np.random.Generator
    dispositions: np.random.Generator

    @classmethod
    def for_replication(cls, seed: int, replication: int) -> Streams:
        children = np.random.SeedSequence((int(seed), int(replication))).spawn(len(PURPOSES))
        return cls(*(np.random.Generator(np.random.PCG64(child)) for child in children))
