"""The engine as pure M/M/c reproduces Erlang C, and its output obeys Little's law."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.model import run_once
from simulator.engine.service import erlang_c
from tests.helpers import compiled, mmc_scenario

CASES = [  # (servers, utilisation, handle minutes)
    (2, 0.5, 2.0),
    (4, 0.65, 4.0),
]
CONTACTS = 1_500_000  # the sd of the Wq estimate is ~0.5-0.7% at this size (measured over 12 seeds): 3% is >4 sd


@pytest.mark.slow
@pytest.mark.parametrize(("servers", "rho", "handle"), CASES)
def test_engine_reproduces_erlang_c(servers, rho, handle):
    per_month = rho * servers * 450.0 / handle * 30.4375
    months = int(np.ceil(CONTACTS / per_month))
    model = compiled(mmc_scenario(servers, rho, handle, months))
    p = run_once(model, "baseline", 0, seed=11).periods
    served = p["contacts_served"].sum()
    assert served > 0.99 * CONTACTS
    assert p["contacts_abandoned"].sum() == 0  # no patience limit: nobody abandons
    p_wait_sim = p["contacts_delayed"].sum() / served
    wq_sim = (p["mean_wait_minutes"] * p["contacts_served"]).sum() / served
    mu = 1.0 / handle  # per minute
    lam = rho * servers * mu
    p_wait, wq = erlang_c(lam, mu, servers)
    assert p_wait_sim == pytest.approx(p_wait, rel=0.03)
    assert wq_sim == pytest.approx(wq, rel=0.03)


def test_littles_law_on_engine_output():
    """Time-average queue length L (integrated over time) equals arrival rate x mean time in queue W."""
    model = compiled(mmc_scenario(5, 0.85, 8.0, 24, patience=6.0))
    p = run_once(model, "baseline", 0, seed=5).periods
    minutes = 24 * 30.4375 * 450.0
    arrivals = p["contacts_arrived"].sum()
    L = float(np.mean(p["mean_queue_length"]))  # contacts waiting, time average (periods are equal length)
    W_days = p["queue_minutes"].sum() / arrivals / 450.0
    lam_per_day = arrivals / (24 * 30.4375)
    assert p["contacts_abandoned"].sum() > 0  # abandonment is on: the law holds for all who queue
    assert L == pytest.approx(lam_per_day * W_days, rel=0.01)
    assert minutes > 0
