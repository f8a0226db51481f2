"""One run: one strategy, one replication. SimPy owns the calendar; hot per-step work is vectorised.

Processes on the SimPy calendar:
  * `calendar`   network steps every `step_days`, cut at period ends so each period's flows are exact;
                 each step serves that step's contacts, then closes the period when one ends.
  * `vacancy`    one per open position: hiring lag, then a new hire who ramps up over `ramp_days`.
  * `initiative` one per initiative of the strategy: logs its start and stop on the calendar.
The clock counts service days: a day holds `minutes_per_day` minutes of counter time.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
import simpy

from simulator.engine import customers as customer_kernels
from simulator.engine import rng as keyed
from simulator.engine._numba import PAIRWISE, LazyKernel, pairwise_sum
from simulator.engine.customers import CustomerBase, _contacts_kernel, _purchases_kernel
from simulator.engine.netstep import FastNetworkState
from simulator.engine.normal import _COEF as _NDTRI_COEF
from simulator.engine.normal import _NDTRI
from simulator.engine.policy import Policy
from simulator.engine.rng import (
    _SMALL_MEAN,
    CONTACT_TIME,
    CONTACTS,
    EXPERIENCE,
    HANDLING,
    PATIENCE,
    PURCHASES,
    KeyedRandom,
    _poisson_ppf,
    _step_base,
    _unit,
    _unit_at,
    _walk,
    _walk_start,
    within_group_index,
)
from simulator.engine.service import FCFSServers, _fcfs_heap, _fcfs_kernel
from simulator.graph.compiler import CompiledModel
from simulator.ports import READ_PORTS
from simulator.results import ACTIVITY_VOLUME_PREFIX, COST_COLUMNS, ENGINE_METRICS
from simulator.scenario.models import SEGMENT_PARAMETERS

YEAR_DAYS = 365.25


@dataclass
class RunOutput:
    """Raw output of one run: per-period metric arrays, the customer ledger, and the calendar's log."""

    strategy: str
    replication: int
    periods: dict[str, np.ndarray]
    ledger: dict[str, np.ndarray]
    events: list[tuple[float, str]]
    recording: object = None  # simulator.engine.frozen.Recording of a run_once(..., record=True)


class Workforce:
    """Employees as small parallel lists (tens to thousands of people: lists are the right size of tool).

    Staff hold numbered positions (seats 0, 1, ...). The n-th holder of seat s is the same person in every
    strategy (key (s, n)), and quits on an exponential clock: when the quit hazard accumulated since joining
    crosses an Exp(1) budget keyed by that person. A vacancy is refilled into the same seat, so two strategies
    that differ only in the seats they keep (a headcount cut) keep the same people, quits and hires in the
    seats they share.
    """

    _GENERATION_BITS = 24

    def __init__(self, headcount: int, ramp_days: float, rng: KeyedRandom):
        self.rng = rng
        self.hire_days: list[float] = [-math.inf] * headcount
        self.seats: list[int] = list(range(headcount))
        self.ordinals: list[int] = [self._key(seat, 0) for seat in self.seats]
        self.hazard_used: list[float] = [0.0] * headcount
        self.budgets: list[float] = self._budgets(self.ordinals)
        self.generation: dict[int, int] = {}
        self.pipeline_seats: set[int] = set()
        self.ramp_days = ramp_days

    @classmethod
    def _key(cls, seat: int, generation: int) -> int:
        return (seat << cls._GENERATION_BITS) | generation

    def _budgets(self, ordinals: list[int]) -> list[float]:
        if not ordinals:
            return []
        return self.rng.exponential(keyed.EMPLOYEES, np.asarray(ordinals, dtype=np.uint64)).tolist()

    @property
    def headcount(self) -> int:
        return len(self.hire_days)

    def vacant_seats(self, target: int) -> list[int]:
        """Seats below `target` with nobody in them and no hire on the way."""
        seats, pipeline = self.seats, self.pipeline_seats
        if (len(seats) + len(pipeline) >= target and (not seats or max(seats) < target)
                and (not pipeline or max(pipeline) < target)):
            return []  # distinct seats (staff and hires on the way never share one), all below target: none vacant
        taken = set(seats) | pipeline
        return [seat for seat in range(target) if seat not in taken]

    def hire(self, day: float, seat: int) -> None:
        generation = self.generation.get(seat, 0) + 1
        self.generation[seat] = generation
        key = self._key(seat, generation)
        self.hire_days.append(day)
        self.seats.append(seat)
        self.ordinals.append(key)
        self.hazard_used.append(0.0)
        self.budgets.extend(self._budgets([key]))

    def _keep(self, keep: list[int]) -> None:
        self.hire_days = [self.hire_days[i] for i in keep]
        self.seats = [self.seats[i] for i in keep]
        self.ordinals = [self.ordinals[i] for i in keep]
        self.hazard_used = [self.hazard_used[i] for i in keep]
        self.budgets = [self.budgets[i] for i in keep]

    def quits(self, hazard_dt: float) -> int:
        """Advance every clock by the step's hazard; those whose budget is used up quit. Returns how many."""
        used = [h + hazard_dt for h in self.hazard_used]
        self.hazard_used = used
        if all(map(operator.lt, used, self.budgets)):  # nobody's budget used up (the usual step)
            return 0
        stay = [i for i, (h, b) in enumerate(zip(used, self.budgets, strict=True)) if h < b]
        n_quits = len(used) - len(stay)
        if n_quits:
            self._keep(stay)
        return n_quits

    def cut_to(self, target: int) -> int:
        """Redundancies down to `target`: the holders of the highest seats leave; anyone left above the target
        moves into a vacant seat below it (lowest first). Returns how many left."""
        excess = self.headcount - target
        if excess <= 0 and (not self.seats or max(self.seats) < target):  # nobody to cut or to move
            return 0
        if excess > 0:
            order = sorted(range(self.headcount), key=lambda i: self.seats[i])
            self._keep(sorted(order[:target]))
        above = [i for i, seat in enumerate(self.seats) if seat >= target]
        if above:
            free = iter(self.vacant_seats(target))
            for i in above:
                seat = next(free, None)
                if seat is None:
                    break
                self.seats[i] = seat
        return max(0, excess)

    def productive_fte(self, now: float) -> float:
        if self.ramp_days <= 0 or not self.hire_days:
            return float(self.headcount)
        if (now - max(self.hire_days)) / self.ramp_days >= 1.0:  # everyone ramped up: a sum of ones, exactly
            return float(self.headcount)
        return float(sum(min(1.0, max(0.0, (now - h) / self.ramp_days)) for h in self.hire_days))


class Simulation:
    """State and processes of one run."""

    def __init__(self, model: CompiledModel, strategy: str, replication: int, seed: int, months: int | None = None):
        self.model = model
        sc = model.scenario
        self.sc = sc
        self.strategy = strategy
        self.replication = replication
        self.meta = sc.metadata
        self.P = sc.metadata.period_days
        self.n_periods = int(months if months is not None else sc.metadata.horizon_months)
        self.horizon = self.n_periods * self.P
        self.rng = KeyedRandom.for_replication(seed, replication)
        self.step_index = 0
        self.policy = Policy.for_strategy(sc, strategy)
        self.network = FastNetworkState(model)
        self.env = simpy.Environment()
        emp = sc.employees
        self.staff = Workforce(emp.headcount, emp.ramp_days, self.rng)
        self.servers = FCFSServers(self._servers_for(self.staff.productive_fte(0.0)))
        self.customers = CustomerBase(sc, self.rng)
        self.segment_names = [s.name for s in sc.segments]
        self._activity_segments: dict[str, np.ndarray] = {}
        # capacity cost rate (time-driven ABC): cost of capacity supplied / practical capacity, per minute
        self.minute_rate = emp.annual_salary / (YEAR_DAYS * emp.minutes_per_day * emp.practical_capacity)
        self.references = {n.name: n.reference for n in sc.network.nodes if n.kind == "lever"}
        self.base_effects = {link.id: link.effect for link in sc.network.links}
        self.ports = self._port_defaults()
        self.events: list[tuple[float, str]] = []
        self.observed: dict[str, float] = {}
        self.pending_arrival = np.empty(0)
        self.pending_exit = np.empty(0)
        self.queue_time_next = 0.0
        self.node_names = [n.name for n in sc.network.nodes]
        columns = [c for c in ENGINE_METRICS if c not in ("employee_turnover", "cumulative_profit", "npv")]
        self.acc = {c: np.zeros(self.n_periods + 1) for c in columns + ["busy_days", "server_days", "wait_days",
                                                                        "queue_time", "headcount_days"]}
        self._step_acc = tuple(self.acc[c] for c in (  # the compiled step's accumulators, looked up once
            "contacts_arrived", "queue_minutes", "queue_time", "purchases", "revenue", "cost_of_goods",
            "self_service_contacts", "channel_costs"))
        self.node_values = {name: np.zeros(self.n_periods) for name in self.node_names}
        self.activity_volume = {act.name: np.zeros(self.n_periods + 1) for act in sc.activities}
        self.base_basket = np.array([s.basket if s.basket > 0 else 1.0 for s in sc.segments])
        self.step_practical_minutes = 0.0
        self.step_used_minutes = 0.0
        self.levels = {c: np.zeros(self.n_periods) for c in ("headcount", "productive_fte", "active_customers",
                                                             "customer_satisfaction", "nps", "contacts_waiting")}
        self._static_segments: dict[str, np.ndarray] | None = None  # segment parameters no initiative changes
        self._segments_at: tuple | None = None  # (strengths, segment parameters) of the last step that changed them
        self._policy_key: tuple[float, ...] | None = None  # the initiatives' strengths of self._levers, _link_effects
        self._levers: dict[str, float] = {}
        self._strengths_at: tuple[float, tuple[float, ...]] = (math.nan, ())  # (t, the strengths at t)
        self._link_effects: dict[str, float] = {}
        self._constants: tuple | None = None
        self._buffers = _Buffers()
        self._keep_after = np.ones(0)
        self._kernels = _step_kernels()
        self._promoters = np.zeros(len(sc.segments), dtype=np.int64)
        self._sums = np.zeros(8)  # numpy's sums, computed by the kernels
        self._after_step: tuple[float, float, int] | None = None  # satisfaction, NPS, active customers after a step
        self._fused: tuple | None = None  # see _fused_activities
        self._fused_only = False  # (set with _fused) every activity _activities books is fused
        # The compiled step hands the next one the active customers and promoters it found at its end (in the
        # idx buffer), and _close_period reuses its satisfaction, NPS and count: both assume nothing changes the
        # customers between steps. Whatever does must set both to None.
        self._next_active: int | None = None
        self._purchase_sums = np.zeros(4)  # numpy's sums of the step's revenue, cost of goods and channel
        self._acquisition: tuple | None = None  # see _acquisition_list
        self._driven_by = {driver: [act for act in sc.activities if act.driver == driver]
                           for driver in ("new_customer", "month")}  # the activities of these drivers, in order
        self._segment_first = np.zeros(2 * len(sc.segments))  # exp(-mean) of a whole step's contacts, purchases

    # ---- ports -------------------------------------------------------------------------------------------
    def _port_defaults(self) -> dict[str, float]:
        emp = self.sc.employees
        defaults = {"employee_quit_rate": emp.annual_quit_rate, "headcount_target": float(emp.headcount),
                    "service_quality": 7.0, "handle_time_factor": 1.0, "churn_hazard_factor": 1.0,
                    "contact_frequency_factor": 1.0, "acquisition_factor": 1.0, "referral_rate": 0.0,
                    "price_index": 1.0}
        assert set(defaults) == set(READ_PORTS), "every read port needs a default"
        return defaults

    def _read_ports(self, values: dict[str, float]) -> None:
        for name in self.model.ports_read:
            self.ports[name] = values[name]

    def _servers_for(self, fte: float) -> int:
        """Servers at the desk: productive FTE x service share, at least one while anyone is productive."""
        if fte <= 0:
            return 0
        return max(1, int(round(fte * self.sc.employees.service_share)))

    def _period_of(self, times: np.ndarray) -> np.ndarray:
        return np.minimum(times / self.P, self.n_periods).astype(np.int64)

    # ---- processes --------------------------------------------------------------------------------------
    def run(self) -> RunOutput:
        for ini in self.policy.initiatives:
            self.env.process(self._initiative(ini))
        self.env.process(self._calendar())
        self.env.run(until=self.horizon + 1e-9)
        self._buffers = _Buffers()  # the step's buffers are done with: free them before the ledger's copies
        self.customers.release_buffers()
        ledger = self.customers.ledger(self.horizon, self.P)
        ledger["churn_hazard"] = self._hazard_at_horizon()
        return RunOutput(self.strategy, self.replication, self._period_table(), ledger, self.events)

    def _hazard_at_horizon(self) -> np.ndarray:
        """Each active customer's monthly churn hazard as the model sets it at the horizon (the strategy's
        segment parameters and ports of the last step, the customer's own satisfaction); NaN for those who
        left. Valuing the base left at the horizon on these (not on defections counted in a window) keeps
        the continuing value free of the sampling noise of a year's defections."""
        cust, svc = self.customers, self.sc.service
        n = cust.size
        out = np.full(n, np.nan)
        idx = cust.active_indices()
        if idx.size == 0:
            return out
        seg = self._segment_parameters(max(0.0, self.horizon - 1e-9))
        segs = cust.segment[idx]
        base, neg_sensitivity, price_term, _ = self._segment_constants(seg)  # the step's own per-segment factors
        per_day = base[segs] * self.ports["churn_hazard_factor"] * np.exp(
            neg_sensitivity[segs] * (cust.satisfaction[idx] - svc.satisfaction_reference) + price_term[segs])
        out[idx] = per_day * self.P
        return out

    def _initiative(self, ini):
        start, end = self.policy.start_day(ini), self.policy.end_day(ini)
        if start >= self.horizon:
            return
        yield self.env.timeout(start)
        self.events.append((self.env.now, f"initiative {ini.name} starts"))
        if end < self.horizon:
            yield self.env.timeout(end - start)
            self.events.append((self.env.now, f"initiative {ini.name} stops"))

    def _vacancy(self, seat: int):
        """A vacancy in one seat: after the hiring lag, its next holder starts (if the seat is still wanted)."""
        self.staff.pipeline_seats.add(seat)
        yield self.env.timeout(self.sc.employees.hiring_lag_days)
        self.staff.pipeline_seats.discard(seat)
        target = max(0, int(round(self.ports["headcount_target"])))
        if seat < target and seat not in self.staff.seats and self.staff.headcount < target:
            self.staff.hire(self.env.now, seat)
            self.acc["hires"][self._period_index(self.env.now)] += 1

    def _period_index(self, t: float) -> int:
        return min(int(t / self.P + 1e-9), self.n_periods)

    def _calendar(self):
        step = self.meta.step_days
        period = 0
        while period < self.n_periods:
            t = self.env.now
            period_end = (period + 1) * self.P
            dt = min(step, period_end - t)
            if period_end - (t + dt) < 1e-9:
                dt = period_end - t
            self._step(t, dt, period)
            yield self.env.timeout(dt)
            if abs(self.env.now - period_end) < 1e-9:
                self._close_period(period, period_end)
                period += 1

    # ---- one network step ------------------------------------------------------------------------------
    def _step(self, t: float, dt: float, period: int) -> None:
        self._after_step = None
        key = self._strengths(t)
        if key != self._policy_key:  # levers and link effects depend on t only through the strengths
            self._policy_key = key
            self._levers = self.policy.levers(t, self.references)
            self._link_effects = self.policy.link_effects(t, self.base_effects)
        values = self.network.step(dt, self.observed, self._levers, self._link_effects)
        self._read_ports(values)
        self._staffing(t, dt, period)
        seg_params = self._segment_parameters(t)
        obs = self._serve_and_trade(t, dt, period, seg_params)
        self._money(t, dt, period)
        self.observed = obs
        self.step_index += 1

    def _strengths(self, t: float) -> tuple[float, ...]:
        """Each initiative's strength at t: the policy's levers, link effects and segment values depend on t
        through these alone, so equal strengths give equal values (and the last ones are reused)."""
        if self._strengths_at[0] != t:
            strength = self.policy.strength
            self._strengths_at = (t, tuple([strength(ini, t) for ini in self.policy.initiatives]))
        return self._strengths_at[1]

    def _segment_parameters(self, t: float) -> dict[str, np.ndarray]:
        """Per segment parameter, its value in each segment at t (read-only: the same arrays are handed out
        while the initiatives' strengths stay the same, so the compiled step's constants stay cached too)."""
        if self._static_segments is not None:
            return self._static_segments
        key = self._strengths(t)
        if self._segments_at is not None and self._segments_at[0] == key:
            return self._segments_at[1]
        out = {}
        for param in SEGMENT_PARAMETERS:
            values = []
            for seg in self.sc.segments:
                base = getattr(seg, param)
                base = math.inf if base is None else float(base)
                values.append(self.policy.segment_values(t, seg.name, param, base) if self.policy.initiatives else base)
            out[param] = np.asarray(values, dtype=float)
        if not self.policy.touches_segments():  # the same values every step: compute them once (read-only)
            self._static_segments = out
        self._segments_at = (key, out)
        return out

    def _staffing(self, t: float, dt: float, period: int) -> None:
        emp = self.sc.employees
        hazard = max(0.0, self.ports["employee_quit_rate"]) / YEAR_DAYS
        n = self.staff.headcount
        self.step_quits = 0
        if n:
            n_quits = self.staff.quits(hazard * dt)
            self.step_quits = n_quits
            if n_quits:
                self.acc["employee_quits"][period] += n_quits
                self.acc["turnover_costs"][period] += n_quits * emp.replacement_cost_fraction * emp.annual_salary
        target = max(0, int(round(self.ports["headcount_target"])))
        excess = self.staff.cut_to(target)
        if excess > 0:
            self.events.append((t, f"{excess} redundancies to reach headcount {target}"))
            self.acc["redundancies"][period] += excess
            self.acc["severance_costs"][period] += excess * emp.severance_months * emp.annual_salary / 12.0
        for seat in self.staff.vacant_seats(target):
            self.env.process(self._vacancy(seat))
        staff, servers, acc = self.staff, self.servers, self.acc
        servers.set_servers(self._servers_for(staff.productive_fte(t)), t)
        headcount = staff.headcount
        acc["server_days"][period] += servers.servers * dt
        acc["headcount_days"][period] += headcount * dt
        acc["wages"][period] += headcount * emp.annual_salary / YEAR_DAYS * dt
        self.step_practical_minutes = headcount * dt * emp.minutes_per_day * emp.practical_capacity
        self.step_used_minutes = 0.0

    def _serve_and_trade(self, t: float, dt: float, period: int, seg: dict[str, np.ndarray]) -> dict[str, float]:
        """Churn, acquisition, contacts (served FCFS), experiences and purchases of one step.

        Each customer is exposed for the part of the step it is active: leavers until they leave, new
        customers from the day they join, so contacts and purchases are exact in expectation.
        With numba the step runs as a few kernels (`_serve_and_trade_compiled`), else as numpy below; both
        give bit-identical results.
        """
        kernels = self._kernels
        if kernels is not None:
            return self._serve_and_trade_compiled(t, dt, period, seg, kernels)
        sc, cust, rng, acc, ports = self.sc, self.customers, self.rng, self.acc, self.ports
        svc = sc.service
        mpd = sc.employees.minutes_per_day
        n_seg = len(sc.segments)
        step = self.step_index
        idx = cust.active_indices()
        segs = cust.segment[idx]
        sat_now = cust.satisfaction[idx]
        # churn: base hazard x port x own satisfaction, on each customer's exponential clock
        base = -np.log1p(-np.minimum(seg["churn_per_month"], 0.999999)) / self.P
        price = seg["basket"] * ports["price_index"] / self.base_basket  # price relative to the scenario's own
        log_price = np.log(np.where(price > 0, price, 1.0))
        hazard = base[segs] * ports["churn_hazard_factor"] * np.exp(
            -seg["satisfaction_sensitivity"][segs] * (sat_now - svc.satisfaction_reference)
            + (seg["price_churn_elasticity"] * log_price)[segs])
        leave, leave_frac = cust.accumulate_churn(idx, hazard * dt)
        leavers = idx[leave]
        # acquisition and referrals from promoters (counted at the start of the step), on the segments' clocks
        promoters = np.bincount(segs[sat_now >= 9.0], minlength=n_seg)
        rate_per_day = (seg["acquisition_per_month"] * ports["acquisition_factor"] / self.P
                        + promoters * max(0.0, ports["referral_rate"]) / YEAR_DAYS)
        joined = cust.arrive(rate_per_day, t, dt)
        join_frac = np.clip((cust.joined_day[joined] - t) / dt, 0.0, 1.0)
        # exposure of everyone active at some point of the step: (who, start day, days active)
        who_all = np.concatenate([idx, joined])
        start = np.concatenate([np.full(idx.size, t), t + join_frac * dt])
        exposure = np.concatenate([np.full(idx.size, dt), (1.0 - join_frac) * dt])
        exposure[: idx.size][leave] = leave_frac * dt
        seg_all = cust.segment[who_all]
        keys_all = cust.key[who_all]
        # contacts: Poisson per customer, uniform times within its exposure, served FCFS; every draw is
        # keyed by (customer, step, k-th contact of the step)
        rate = ports["contact_frequency_factor"] / self.P
        counts = rng.poisson(keyed.CONTACTS, keys_all, seg["contacts_per_month"][seg_all] * rate * exposure, step)
        who = np.repeat(who_all, counts)
        kth = within_group_index(counts)
        ckeys = np.repeat(keys_all, counts)
        times = np.repeat(start, counts) + rng.uniform(keyed.CONTACT_TIME, ckeys, step, kth) * np.repeat(exposure, counts)
        order = np.argsort(times, kind="stable")
        who, times, ckeys, kth = who[order], times[order], ckeys[order], kth[order]
        cseg = cust.segment[who]
        handle = rng.exponential(keyed.HANDLING, ckeys, step, kth) * (
            seg["handle_minutes"][cseg] * ports["handle_time_factor"] / mpd)
        patience = rng.exponential(keyed.PATIENCE, ckeys, step, kth) * (seg["patience_minutes"][cseg] / mpd)
        exits, served = self.servers.serve(times, handle, patience)
        waits = exits - times
        n = who.size
        acc["contacts_arrived"][period] += n
        start_period = self._period_of(exits)
        bins = len(acc["contacts_served"])
        served_period = start_period[served]
        acc["contacts_served"] += np.bincount(served_period, minlength=bins)
        acc["contacts_abandoned"] += np.bincount(start_period[~served], minlength=bins)
        acc["contacts_delayed"] += np.bincount(start_period[served & (waits > 0)], minlength=bins)
        acc["wait_days"] += np.bincount(served_period, weights=waits[served], minlength=bins)
        acc["busy_days"] += np.bincount(served_period, weights=handle[served], minlength=bins)
        acc["queue_minutes"][period] += waits.sum() * mpd
        period_end = (period + 1) * self.P
        acc["queue_time"][period] += (np.minimum(exits, period_end) - times).sum()
        carry = exits > t + dt
        if carry.any():
            self.pending_arrival = np.concatenate([self.pending_arrival, times[carry]])
            self.pending_exit = np.concatenate([self.pending_exit, exits[carry]])
        # experiences -> satisfaction
        wait_minutes = waits * mpd
        score = (ports["service_quality"] + cust.disposition[who]
                 + rng.normal(keyed.EXPERIENCE, ckeys, step, kth) * svc.experience_noise
                 - svc.wait_penalty_per_minute * wait_minutes - np.where(served, 0.0, svc.abandonment_penalty)
                 - (seg["price_satisfaction_points"] * log_price / np.log(2.0))[cseg])
        np.clip(score, 0.0, 10.0, out=score)
        desk_minutes = handle * mpd
        cust.record_contacts(who, score, served, desk_minutes * self.minute_rate, svc.satisfaction_smoothing)
        desk_used = float(desk_minutes[served].sum())
        self.step_used_minutes += desk_used
        # purchases over each customer's exposure
        buys = rng.poisson(keyed.PURCHASES, keys_all, seg["purchases_per_month"][seg_all] * rate * exposure, step)
        revenue = buys * seg["basket"][seg_all] * ports["price_index"]
        cogs = revenue * seg["cogs_fraction"][seg_all]
        cust.record_purchases(who_all, buys, revenue, cogs)
        acc["purchases"][period] += buys.sum()
        acc["revenue"][period] += revenue.sum()
        acc["cost_of_goods"][period] += cogs.sum()
        # self-service contacts: a cash cost per contact, booked to the customer
        self_service = seg["self_service_contacts_per_month"][seg_all] * rate * exposure
        channel = self_service * seg["self_service_cost"][seg_all]
        cust.cost_to_serve[who_all] += channel
        acc["self_service_contacts"][period] += self_service.sum()
        acc["channel_costs"][period] += channel.sum()
        # time-driven ABC activities, new customers' costs, and the leavers
        self._activities(who_all, seg_all, exposure, period, who, buys)
        acc["customers_won"][period] += joined.size
        cust.acquisition_cost[joined] = seg["acquisition_cost"][cust.segment[joined]]
        acc["acquisition_costs"][period] += float(cust.acquisition_cost[joined].sum())
        self._onboarding(joined, period)
        cust.leave(leavers, t + leave_frac * dt)
        acc["customers_lost"][period] += leavers.size
        # what the network sees next step (flows as monthly rates)
        per_month = self.P / dt
        served_n = int(served.sum())
        sat, nps, n_active = self._after_step = cust.satisfaction_nps_and_count()
        return {
            "headcount": float(self.staff.headcount),
            "productive_fte": self.staff.productive_fte(t + dt),
            "utilisation": float(handle[served].sum() / (self.servers.servers * dt)) if self.servers.servers else 1.0,
            "mean_wait_minutes": float(wait_minutes[served].mean()) if served_n else 0.0,
            "abandonment_rate": float(1 - served_n / n) if n else 0.0,
            "contacts_served": served_n * per_month,
            "active_customers": float(n_active),
            "customers_won": joined.size * per_month,
            "customers_lost": leavers.size * per_month,
            "customer_satisfaction": sat,
            "nps": nps,
            "employee_quits": self.step_quits * per_month,
            "revenue": float(revenue.sum()) * per_month,
        }

    def _segment_constants(self, seg: dict[str, np.ndarray]) -> tuple:
        """The compiled step's per-segment factors that need numpy's transcendentals: the numpy step's
        expressions on the segment arrays (elementwise the numbers it gathers per customer), cached while the
        segment parameters and the price index stay the same."""
        price_index = self.ports["price_index"]
        cached = self._constants
        if cached is not None and cached[0] is seg and cached[1] == price_index:
            return cached[2]
        base = -np.log1p(-np.minimum(seg["churn_per_month"], 0.999999)) / self.P
        price = seg["basket"] * price_index / self.base_basket  # price relative to the scenario's own
        log_price = np.log(np.where(price > 0, price, 1.0))
        constants = (base, -seg["satisfaction_sensitivity"], seg["price_churn_elasticity"] * log_price,
                     seg["price_satisfaction_points"] * log_price / np.log(2.0))
        self._constants = (seg, price_index, constants)
        return constants

    def _acquisition_list(self, seg: dict[str, np.ndarray]) -> list[float]:
        """seg["acquisition_per_month"] as Python floats (cached with the segment parameters)."""
        cached = self._acquisition
        if cached is None or cached[0] is not seg:
            cached = self._acquisition = (seg, seg["acquisition_per_month"].tolist())
        return cached[1]

    def _keep_table(self, max_count: int) -> np.ndarray:
        """(1 - smoothing) ** k for k = 0 .. max_count: numpy's power on an int64 array, as record_contacts."""
        if self._keep_after.shape[0] <= max_count:
            smoothing = self.sc.service.satisfaction_smoothing
            self._keep_after = (1.0 - smoothing) ** np.arange(max(64, 2 * max_count + 1), dtype=np.int64)
        return self._keep_after

    def _serve_and_trade_compiled(self, t: float, dt: float, period: int, seg: dict[str, np.ndarray],
                                  kernels: tuple) -> dict[str, float]:
        """_serve_and_trade in numba kernels: the same operations in the same order, on reused buffers.
        Transcendentals (exp, log, power) stay in numpy, ndtri in its own kernel (engine.normal); the kernels
        reproduce numpy's pairwise sums (_numba.pairwise_sum) and the order in which np.bincount adds."""
        active_k, exposure_k, poisson_k, draw_k, serve_k, month_k, state_k, exponent_k, ndtri_k = kernels
        sc, cust, rng, acc, ports, buf = self.sc, self.customers, self.rng, self.acc, self.ports, self._buffers
        svc = sc.service
        mpd = sc.employees.minutes_per_day
        step = self.step_index
        base_hazard, neg_sensitivity, price_term, price_points = self._segment_constants(seg)
        # churn exponents of the active customers, promoters at the start of the step
        size = cust.size
        idx, exponent = buf.per_slot(size)
        promoters = self._promoters
        if self._next_active is not None:  # the last step's state kernel found them (idx, promoters)
            n_act = self._next_active
            exponent_k(idx, n_act, cust.segment, cust.satisfaction, neg_sensitivity, svc.satisfaction_reference,
                       price_term, exponent)
        else:
            n_act = active_k(cust.active, cust.segment, cust.satisfaction, size, neg_sensitivity,
                             svc.satisfaction_reference, price_term, idx, exponent, promoters)
        self._next_active = None
        growth = exponent[:n_act]
        np.exp(growth, out=growth)
        # acquisition and referrals from promoters, on the segments' clocks
        # (the numpy step's array expression, element by element in Python floats: the same operations)
        factor, referral, period_days = ports["acquisition_factor"], max(0.0, ports["referral_rate"]), self.P
        rate_per_day = np.array([a * factor / period_days + p * referral / YEAR_DAYS
                                 for a, p in zip(self._acquisition_list(seg), promoters.tolist(), strict=True)])
        first_joined = cust.size
        joined = cust.arrive(rate_per_day, t, dt)
        n_joined = joined.size
        # churn clocks, everyone's exposure, and the means of their contacts and purchases
        n = n_act + n_joined
        (who_all, counts, buys, leavers, partial, seg_all, keys_all, start, exposure, leave_frac, means, first,
         neg_partial) = buf.per_customer(n)
        rate = ports["contact_frequency_factor"] / self.P
        sums = self._sums
        segment_first = self._segment_first
        n_leave, n_partial = exposure_k(
            idx, n_act, first_joined, n_joined, growth, cust.segment, cust.key, cust.hazard_used, cust.churn_budget,
            cust.joined_day, cust.active, cust.left_day, cust.acquisition_cost, base_hazard,
            ports["churn_hazard_factor"], seg["contacts_per_month"], seg["purchases_per_month"],
            seg["acquisition_cost"], rate, t, dt, who_all, seg_all, keys_all, start, exposure, means, segment_first,
            partial, neg_partial, leavers, leave_frac, sums)
        acquisition_sum = float(sums[0])
        # exp(-mean) for the Poisson draws: once per segment for those exposed the whole step (the same numbers
        # to the bit: numpy's exp is elementwise), and for the few exposed for less
        np.exp(segment_first, out=segment_first)
        np.exp(neg_partial[:2 * n_partial], out=neg_partial[:2 * n_partial])
        roots = rng.purpose_roots()
        n_big, total = poisson_k(keys_all, means, first, roots, step, counts, buys, seg_all, segment_first, partial,
                                 neg_partial, n_partial)
        if n_big:
            for purpose, out, m in ((keyed.CONTACTS, counts, means[:n]), (keyed.PURCHASES, buys, means[n:])):
                big = ~(m <= _SMALL_MEAN)  # a mean > 30: scipy's inverse
                out[big] = _poisson_ppf(rng.uniform(purpose, keys_all[big], step), m[big])
            total = int(counts.sum())
        # contacts: uniform times within each exposure, in arrival order (stable), with their keyed draws
        (who, order, owner, bucket, carried, sorted_kth, sorted_key, cseg, times, raw_times, handle, patience, exits,
         queue_disposition, served, experience, uniforms, logs) = buf.per_contact(total)
        max_count = draw_k(who_all, seg_all, keys_all, start, exposure, counts, roots, step, t, dt, owner, carried,
                           carried.view(np.float64), raw_times, order, bucket, sorted_kth, sorted_key, who, cseg, times,
                           uniforms[0], uniforms[1], uniforms[2], cust.disposition, queue_disposition)
        np.log(uniforms[:2], out=logs[:2])
        normal = logs[2]
        ndtri_k(uniforms[2], normal, _NDTRI_COEF)  # = ndtri(uniforms[2], out=normal): both rows C-contiguous float64
        # handle and patience times, the queue and its accounts, experiences -> satisfaction and desk costs,
        # purchases and the self-service channel, and the customer_month activities that come first (see
        # _fused_activities), in one kernel on rows whose use has ended (see _serve_and_book_kernel)
        fused, applies, minutes, activity_sums = self._fused_activities()
        months = buf.row("activity_months", len(fused) * n) if fused else start
        period_end = (period + 1) * self.P
        purchase_sums = self._purchase_sums
        served_n, n_carry, n_buys = serve_k(
            logs[0], logs[1], cseg, seg["handle_minutes"], ports["handle_time_factor"], seg["patience_minutes"], mpd,
            handle, patience, times, self.servers._free, exits, served, self.P, float(self.n_periods), period_end,
            t + dt, acc["contacts_served"], acc["contacts_abandoned"], acc["contacts_delayed"], acc["wait_days"],
            acc["busy_days"], raw_times, uniforms[0], uniforms[1], uniforms[2], sums, who, normal, queue_disposition,
            price_points, self._keep_table(max_count), ports["service_quality"], svc.experience_noise,
            svc.wait_penalty_per_minute, svc.abandonment_penalty, self.minute_rate, who_all, counts, owner, bucket, order,
            experience,
            cust.contacts, cust.satisfaction, cust.cost_to_serve, seg_all, exposure, buys, seg["basket"],
            ports["price_index"], seg["cogs_fraction"], seg["self_service_contacts_per_month"], rate,
            seg["self_service_cost"], cust.purchases, cust.revenue, cust.cost_of_goods, applies, minutes, months,
            activity_sums, purchase_sums)
        wait_sum, queue_sum, desk_sum, handle_sum, wait_minutes_sum = sums[:5].tolist()  # numpy's sums, exactly
        (arrived_acc, queue_minutes_acc, queue_time_acc, purchases_acc, revenue_acc, cogs_acc, self_service_acc,
         channel_acc) = self._step_acc
        arrived_acc[period] += total
        queue_minutes_acc[period] += wait_sum * mpd
        queue_time_acc[period] += queue_sum
        if n_carry:  # (carried contacts' times and exits: in uniforms[2] and patience)
            self.pending_arrival = np.concatenate([self.pending_arrival, uniforms[2][:n_carry]])
            self.pending_exit = np.concatenate([self.pending_exit, patience[:n_carry]])
        self.step_used_minutes += desk_sum
        revenue_sum, cogs_sum, self_service_sum, channel_sum = purchase_sums[:4].tolist()
        purchases_acc[period] += n_buys
        revenue_acc[period] += revenue_sum
        cogs_acc[period] += cogs_sum
        self_service_acc[period] += self_service_sum
        channel_acc[period] += channel_sum
        # time-driven ABC activities, new customers' costs, and the leavers
        self._activities(who_all, seg_all, exposure, period, who, buys, month_k, start, fused, activity_sums)
        if n_joined:  # (their acquisition costs were set by exposure_k)
            acc["customers_won"][period] += n_joined
            acc["acquisition_costs"][period] += acquisition_sum
            self._onboarding(joined, period)
        if n_leave:  # (they left in exposure_k)
            acc["customers_lost"][period] += n_leave
        # what the network sees next step (flows as monthly rates)
        per_month = self.P / dt
        # satisfaction, NPS and the active customers, who (and the promoters) the next step starts from
        next_idx = buf.per_slot(cust.size)[0]
        sat, nps, n_active = self._after_step = cust.state_after_step(state_k, next_idx, self._promoters)
        self._next_active = n_active
        servers = self.servers.servers
        return {
            "headcount": float(self.staff.headcount),
            "productive_fte": self.staff.productive_fte(t + dt),
            "utilisation": float(handle_sum / (servers * dt)) if servers else 1.0,
            "mean_wait_minutes": float(wait_minutes_sum / served_n) if served_n else 0.0,
            "abandonment_rate": float(1 - served_n / total) if total else 0.0,
            "contacts_served": served_n * per_month,
            "active_customers": float(n_active),
            "customers_won": n_joined * per_month,
            "customers_lost": n_leave * per_month,
            "customer_satisfaction": sat,
            "nps": nps,
            "employee_quits": self.step_quits * per_month,
            "revenue": float(revenue_sum) * per_month,
        }

    def _book_activity(self, act, period: int, volume: float, customers: np.ndarray | None = None,
                       per_customer: np.ndarray | None = None) -> None:
        """Time-driven ABC: `volume` occurrences of an activity use `volume x minutes` of the staff pool; their
        cost (at the capacity cost rate) is an allocation of wages to the customers who drove them, not a cost."""
        minutes = volume * act.minutes
        self.step_used_minutes += minutes
        self.acc["activity_minutes"][period] += minutes
        self.activity_volume[act.name][period] += volume
        if customers is not None and customers.size:  # add.at: a customer may appear more than once (contacts)
            np.add.at(self.customers.cost_to_serve, customers, per_customer * act.minutes * self.minute_rate)

    def _fused_activities(self) -> tuple:
        """The customer_month activities the compiled step books inside its purchases kernel: those before any
        contact or purchase activity (so every customer's cost_to_serve gets its additions in the numpy step's
        order); with, per activity, whether it applies to each segment (flat), its minutes, and a buffer for its
        volume."""
        if self._fused is None:
            fused = []
            for act in self.sc.activities:
                if act.driver in ("contact", "purchase"):
                    break
                if act.driver == "customer_month":
                    fused.append(act)
            applies = (np.concatenate([self._segment_lookup(act) for act in fused]) if fused
                       else np.zeros(0, dtype=bool))
            self._fused = (fused, applies, np.array([float(act.minutes) for act in fused]), np.zeros(len(fused)))
            self._fused_only = all(any(act is f for f in fused) or act.driver not in ("customer_month", "contact",
                                                                                       "purchase")
                                   for act in self.sc.activities)
        return self._fused

    def _activities(self, idx: np.ndarray, segs: np.ndarray, exposure: np.ndarray, period: int,
                    contact_who: np.ndarray, buys: np.ndarray, month_kernel=None, months: np.ndarray | None = None,
                    fused: list | None = None, fused_volumes: np.ndarray | None = None) -> None:
        """Time-driven ABC activities of the step; `fused` ones were booked to their customers by the compiled
        purchases kernel already (their volumes in fused_volumes)."""
        if fused and self._fused_only:  # no other activity books here: the fused ones, in the scenario's order
            for act, volume in zip(fused, fused_volumes.tolist(), strict=True):
                self._book_activity(act, period, volume)
            return
        j = 0
        for act in self.sc.activities:
            if fused and j < len(fused) and act is fused[j]:
                self._book_activity(act, period, float(fused_volumes[j]))
                j += 1
            elif act.driver == "customer_month" and month_kernel is not None:  # the branch below, compiled
                sums = self._sums
                month_kernel(self._segment_lookup(act), idx, segs, exposure, self.P, act.minutes, self.minute_rate,
                             self.customers.cost_to_serve, months, sums)
                self._book_activity(act, period, float(sums[0]))
            elif act.driver == "customer_month":
                mask = self._segment_mask(act, segs)
                months = exposure[mask] / self.P
                self._book_activity(act, period, float(months.sum()), idx[mask], months)
            elif act.driver == "contact":
                who = contact_who[self._segment_mask(act, self.customers.segment[contact_who])]
                self._book_activity(act, period, float(who.size), who, np.ones(who.size))
            elif act.driver == "purchase":
                mask = self._segment_mask(act, segs) & (buys > 0)
                self._book_activity(act, period, float(buys[mask].sum()), idx[mask], buys[mask].astype(float))

    def _onboarding(self, joined: np.ndarray, period: int) -> None:
        segs = None
        for act in self._driven_by["new_customer"]:  # (the scenario's new_customer activities, in order)
            if act.segments is None:
                who = joined
            else:
                segs = self.customers.segment[joined] if segs is None else segs
                who = joined[self._segment_mask(act, segs)]
            self._book_activity(act, period, float(who.size))
            if who.size:  # _book_activity's allocation with one occurrence each: np.ones(n) * minutes * rate
                lo, hi = int(who[0]), int(who[-1]) + 1
                where = slice(lo, hi) if hi - lo == who.size else who  # new customers: one block of slots
                self.customers.cost_to_serve[where] += 1.0 * act.minutes * self.minute_rate

    def _segment_lookup(self, act) -> np.ndarray:
        """Per segment code: does the activity apply to it?"""
        lookup = self._activity_segments.get(act.name)
        if lookup is None:
            names = self.segment_names if act.segments is None else act.segments
            lookup = np.isin(np.arange(len(self.segment_names)), [self.segment_names.index(s) for s in names])
            self._activity_segments[act.name] = lookup
        return lookup

    def _segment_mask(self, act, segs: np.ndarray) -> np.ndarray:
        """Which of these customers the activity applies to (a lookup by segment code; isin was a hot spot)."""
        if act.segments is None:
            return np.ones(segs.size, dtype=bool)
        lookup = self._activity_segments.get(act.name)
        if lookup is None:
            lookup = np.isin(np.arange(len(self.segment_names)), [self.segment_names.index(s) for s in act.segments])
            self._activity_segments[act.name] = lookup
        return lookup[segs]

    def _money(self, t: float, dt: float, period: int) -> None:
        acc = self.acc
        acc["initiative_spend"][period] += self.policy.spend(t, t + dt)
        acc["fixed_costs"][period] += self.sc.costs.fixed_per_month * dt / self.P
        for act in self._driven_by["month"]:  # a fixed workload: occurrences per month, driven by no customer
            self._book_activity(act, period, act.per_month * dt / self.P)
        # work beyond practical capacity in this step is overtime, paid at a premium
        over = self.step_used_minutes - self.step_practical_minutes
        if over > 0:
            emp = self.sc.employees
            acc["overtime_minutes"][period] += over
            acc["overtime_costs"][period] += over * emp.overtime_premium * emp.annual_salary / (YEAR_DAYS * emp.minutes_per_day)

    def _close_period(self, period: int, period_end: float) -> None:
        cust = self.customers
        keep = self.pending_exit > period_end
        self.levels["contacts_waiting"][period] = int(keep.sum())
        self.pending_arrival = self.pending_arrival[keep]
        self.pending_exit = self.pending_exit[keep]
        if period + 1 < self.n_periods:  # queue time these carried contacts spend in the next period
            nxt = period_end + self.P
            self.acc["queue_time"][period + 1] += (np.minimum(self.pending_exit, nxt) - period_end).sum()
        # the customers as the step that ends here left them (nothing changes them between steps)
        sat, nps, n_active = self._after_step if self._after_step is not None else cust.satisfaction_nps_and_count()
        self.levels["headcount"][period] = self.staff.headcount
        self.levels["productive_fte"][period] = self.staff.productive_fte(period_end)
        self.levels["active_customers"][period] = n_active
        self.levels["customer_satisfaction"][period] = sat
        self.levels["nps"][period] = nps
        for name in self.node_names:
            self.node_values[name][period] = self.network.values[name]
        acc = self.acc
        costs = sum(acc[c][period] for c in COST_COLUMNS)
        acc["costs"][period] = costs
        acc["profit"][period] = acc["revenue"][period] - costs
        mid_year = (period + 0.5) * self.P / YEAR_DAYS
        acc["discounted_profit"][period] = acc["profit"][period] / (1 + self.meta.discount_rate) ** mid_year
        self.observed["costs"] = costs
        self.observed["profit"] = acc["profit"][period]

    # ---- output ------------------------------------------------------------------------------------------
    def _period_table(self) -> dict[str, np.ndarray]:
        n = self.n_periods
        acc = self.acc
        out: dict[str, np.ndarray] = {"period": np.arange(1, n + 1)}
        for name, values in self.levels.items():
            out[name] = values.copy()
        served = acc["contacts_served"][:n]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["utilisation"] = np.where(acc["server_days"][:n] > 0, acc["busy_days"][:n] / acc["server_days"][:n], 0.0)
            out["mean_wait_minutes"] = np.where(served > 0, acc["wait_days"][:n] * self.sc.employees.minutes_per_day / served, 0.0)
            left = served + acc["contacts_abandoned"][:n]
            out["abandonment_rate"] = np.where(left > 0, acc["contacts_abandoned"][:n] / left, 0.0)
            mean_headcount = acc["headcount_days"][:n] / self.P
            out["employee_turnover"] = np.where(mean_headcount > 0, acc["employee_quits"][:n] * (YEAR_DAYS / self.P) / mean_headcount, 0.0)
        out["mean_queue_length"] = acc["queue_time"][:n] / self.P
        mpd = self.sc.employees.minutes_per_day
        out["service_minutes"] = acc["busy_days"][:n] * mpd
        # one pool of staff time (time-driven ABC): practical minutes of everyone paid, used by desk and activities
        emp = self.sc.employees
        out["practical_minutes"] = acc["headcount_days"][:n] * mpd * emp.practical_capacity
        out["activity_minutes"] = acc["activity_minutes"][:n].copy()
        out["unused_minutes"] = out["practical_minutes"] - out["service_minutes"] - out["activity_minutes"]
        for name in ("contacts_arrived", "contacts_served", "contacts_abandoned", "contacts_delayed", "queue_minutes",
                     "customers_won", "customers_lost", "employee_quits", "hires", "redundancies", "purchases",
                     "self_service_contacts", "overtime_minutes", "revenue", *COST_COLUMNS, "costs", "profit",
                     "discounted_profit"):
            out[name] = acc[name][:n].copy()
        out["activity_costs"] = out["activity_minutes"] * self.minute_rate
        out["cost_to_serve"] = (out["service_minutes"] + out["activity_minutes"]) * self.minute_rate + out["channel_costs"]
        out["unused_capacity_cost"] = out["unused_minutes"] * self.minute_rate
        for act in self.sc.activities:
            out[ACTIVITY_VOLUME_PREFIX + act.name] = self.activity_volume[act.name][:n].copy()
        out["cumulative_profit"] = np.cumsum(out["profit"])
        out["npv"] = np.cumsum(out["discounted_profit"])
        for name, values in self.node_values.items():
            if name not in out:
                out[name] = values.copy()
        return out


def run_once(model: CompiledModel, strategy: str, replication: int, seed: int, months: int | None = None,
             frozen=None, record: bool = False) -> RunOutput:
    """Simulate one strategy for one replication. `frozen` (a simulator.engine.frozen.Frozen) holds chosen
    channels at the baseline run's values; `record` keeps what freezing needs, step by step, in
    `RunOutput.recording` (see simulator.engine.frozen). Both off: the plain run, at no extra cost."""
    if frozen is None and not record:
        return Simulation(model, strategy, replication, seed, months).run()
    from simulator.engine.frozen import FrozenSimulation

    return FrozenSimulation(model, strategy, replication, seed, months, frozen, record).run()


# ---- the compiled step ----------------------------------------------------------------------------------
class _Buffers:
    """Per-step arrays reused from step to step (grown by doubling), so a large run does not allocate and
    page-fault fresh memory for every step. A buffer's contents do not outlive the step that filled it."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._sets: dict[str, tuple[int, list[tuple[np.ndarray, int]]]] = {}  # name -> (capacity, (row, width))
        self._last: dict[str, tuple[int, list[np.ndarray]]] = {}  # name -> (n, the views _set handed out for n)

    def rows(self, name: str, k: int, n: int, dtype: type = np.float64) -> np.ndarray:
        """k rows of n elements (each row C-contiguous), as a (k, n) view."""
        array = self._arrays.get(name)
        if array is None or array.shape[1] < n:
            array = np.empty((k, max(n + n // 16, 64)), dtype=dtype)
            self._arrays[name] = array
        return array[:, :n]

    def row(self, name: str, n: int) -> np.ndarray:
        """n float64 elements (a buffer of its own, not one of rows')."""
        array = self._arrays.get(name)
        if array is None or array.shape[0] < n:
            array = np.empty(max(n + n // 16, 64))
            self._arrays[name] = array
        return array[:n]

    def _set(self, name: str, n: int, spec: tuple[tuple[str, int, int, type, bool], ...]) -> list[np.ndarray]:
        """The arrays of `spec` ((group, rows, length: 0 for n, 1 for n + 1, 2 for 2n, 3 for 4(n + 1), dtype, split))
        cut to their length for n, in order: each of a group's rows on its own if split, else the group as one (rows,
        length) view. Split once per growth, so a step pays one slice per array."""
        last = self._last.get(name)
        if last is not None and last[0] == n:  # the same length as this set's last call (e.g. per_slot, twice a step)
            return last[1]
        capacity, entries = self._sets.get(name, (-1, []))
        if capacity < n:
            entries = []
            capacity = n + n // 16
            for group, k, width, dtype, split in spec:
                m = (capacity, capacity + 1, 2 * capacity, 4 * (capacity + 1))[width]
                block = self.rows(group, k, m, dtype)
                block = block.base if block.base is not None else block
                entries.extend([(block[r], width, False) for r in range(k)] if split else [(block, width, True)])
            self._sets[name] = (capacity, entries)
        lengths = (n, n + 1, 2 * n, 4 * (n + 1))
        views = [array[:, :lengths[width]] if whole else array[:lengths[width]] for array, width, whole in entries]
        self._last[name] = (n, views)
        return views

    _CUSTOMER = (("customer_int", 5, 0, np.int64, True), ("customer_int32", 1, 0, np.int32, True),
                 ("customer_uint", 1, 0, np.uint64, True), ("customer_float", 3, 0, np.float64, True),
                 ("customer_means", 3, 2, np.float64, True))
    _CONTACT = (("contact_int", 2, 0, np.int64, True), ("contact_int1", 2, 1, np.int64, True),
                ("contact_carried", 1, 3, np.uint64, True), ("contact_uint", 2, 0, np.uint64, True),
                ("contact_int32", 1, 0, np.int32, True), ("contact_float", 6, 0, np.float64, True),
                ("contact_bool", 1, 0, np.bool_, True), ("contact_experience", 1, 2, np.float64, True),
                ("contact_uniforms", 3, 0, np.float64, False),
                ("contact_logs", 3, 0, np.float64, False))
    _SIZE = (("size_int", 1, 0, np.int64, True), ("size_float", 1, 0, np.float64, True))

    def per_customer(self, n: int) -> list[np.ndarray]:
        """The compiled step's per-customer arrays: who, contacts, purchases, leavers, partly exposed (int64),
        segment (int32), key (uint64), start, exposure, leave fraction (float64), means and exp(-means) of contacts
        and purchases, and those of the partly exposed (2n each). Rows whose use has ended serve again later in the
        step (see _serve_and_trade_compiled)."""
        return self._set("customer", n, self._CUSTOMER)

    def per_contact(self, n: int) -> list[np.ndarray]:
        """The compiled step's per-contact arrays: who, order (int64), owner, bucket (int64, n + 1), the records the
        contacts carry (uint64, 4(n + 1)), k and key in queue order (uint64), segment (int32), times, raw times,
        handle, patience, exits, dispositions in queue order (float64), served (bool), experiences (float64, 2n),
        uniforms and logs (3 rows each, as (3, n) views)."""
        return self._set("contact", n, self._CONTACT)

    def per_slot(self, size: int) -> list[np.ndarray]:
        """One int64 and one float64 array per customer slot (the active customers and their churn exponents). The
        compiled step leaves the next step's active customers in the first (see _serve_and_trade_compiled)."""
        return self._set("size", size, self._SIZE)


_MAX_BUCKET = 64
_LOW_32 = np.uint64(0xFFFFFFFF)


def _draw_contacts_kernel(who_all, seg_all, keys, start, exposure, counts, roots, step, t, dt, owner, carried,
                          carried_float, raw_times, order, bucket, sorted_kth, sorted_key, who, cseg, times, u_handle,
                          u_patience, u_experience, disposition, queue_disposition):
    # pragma: no cover - runs compiled
    """The step's contacts, as the numpy step makes them: the k-th contact of customer i comes at
    start + uniform(CONTACT_TIME, key, k) * exposure; contacts in stable order of time (= argsort(kind="stable"));
    then in that order who, segment, time and the uniforms of handle time, patience and experience noise; and
    in `bucket`, each contact's place in that order. Returns the largest count of one customer. (owner and bucket
    hold total + 1.)

    What a contact carries to its place in the queue (key, k and segment, who, and the customer's disposition,
    wanted in queue order by the experiences: in `queue_disposition`) is one record of four words in `carried`
    (4 x (total + 1); `carried_float` is the same memory as float64): a large step's contacts do not fit the cache,
    and the move to queue order reads one cache line per contact instead of one per array (at a million customers
    that move was the kernel's slowest pass)."""
    base_time = _step_base(roots[CONTACT_TIME], step)
    base_handle = _step_base(roots[HANDLING], step)
    base_patience = _step_base(roots[PATIENCE], step)
    base_experience = _step_base(roots[EXPERIENCE], step)
    total = who.shape[0]
    j = 0
    largest = 0
    for i in range(counts.shape[0]):  # owner of each contact, and what it carries
        c = counts[i]
        owner[j] = i  # written always, kept if c > 0: a branch on c (0, 1, 2 at random) mispredicts
        key = keys[i]
        person = who_all[i]
        segment = np.uint64(seg_all[i]) << np.uint64(32)
        mood = disposition[np.uint64(person)]
        record = np.uint64(4 * j)
        carried[record] = key
        carried[record + np.uint64(1)] = segment
        carried[record + np.uint64(2)] = person
        carried_float[record + np.uint64(3)] = mood
        if c > 1:
            for k in range(1, c):
                owner[j + k] = i
                record = np.uint64(4 * (j + k))
                carried[record] = key
                carried[record + np.uint64(1)] = segment | np.uint64(k)
                carried[record + np.uint64(2)] = person
                carried_float[record + np.uint64(3)] = mood
            if c > largest:
                largest = c
        elif c > largest:
            largest = c
        j += c
    if total == 0:
        return largest
    for j in range(total):
        record = np.uint64(4 * j)
        raw_times[j] = _unit_at(carried[record], base_time, carried[record + np.uint64(1)] & _LOW_32)
    for j in range(total):
        i = np.uint64(owner[j])  # unsigned indices: no wrap-around test for negative ones
        raw_times[j] = start[i] + raw_times[j] * exposure[i]
    # stable sort: buckets by time (a monotone map, so a bucket's times are all below the next bucket's),
    # filled in index order, then insertion sort (moves only past strictly later times, within a bucket);
    # `sorted_kth` holds each contact's bucket meanwhile
    scale = total / dt
    bucket[:] = 0
    fullest = 0
    for j in range(total):
        x = (raw_times[j] - t) * scale
        b = 0
        if x >= total:
            b = total - 1
        elif x > 0.0:
            b = int(x)
        sorted_kth[j] = b
        bucket[b + 1] += 1
        if bucket[b + 1] > fullest:
            fullest = bucket[b + 1]
    if fullest > _MAX_BUCKET or not dt > 0.0:  # times bunched up: a merge sort (stable) instead
        _merge_sort(raw_times, order, sorted_kth, total)
        for r in range(total):
            times[r] = raw_times[np.uint64(order[r])]
    else:
        for b in range(total):
            bucket[b + 1] += bucket[b]
        for j in range(total):  # each time with its contact into its bucket's next slot (contacts in index order)
            b = sorted_kth[j]
            r = bucket[b]
            bucket[b] = r + 1
            times[r] = raw_times[j]
            order[r] = j
        for r in range(1, total):  # on the slots themselves: neighbours in memory, not contacts at random
            x = times[r]
            j = order[r]
            q = np.uint64(r)  # (unsigned indices: no wrap-around test for negative ones)
            while q > 0 and times[q - np.uint64(1)] > x:
                times[q] = times[q - np.uint64(1)]
                order[q] = order[q - np.uint64(1)]
                q -= np.uint64(1)
            times[q] = x
            order[q] = j
    for r in range(total):  # (the buckets are done with: `bucket` keeps each contact's queue position)
        j = np.uint64(order[r])
        record = np.uint64(4) * j
        sorted_key[r] = carried[record]
        k_and_segment = carried[record + np.uint64(1)]
        sorted_kth[r] = k_and_segment & _LOW_32
        cseg[r] = np.int32(k_and_segment >> np.uint64(32))
        who[r] = np.int64(carried[record + np.uint64(2)])
        queue_disposition[r] = carried_float[record + np.uint64(3)]
        bucket[j] = r
    for r in range(total):  # the draws in queue order, hashing over contiguous arrays again
        key = sorted_key[r]
        k = sorted_kth[r]
        u_handle[r] = _unit_at(key, base_handle, k)
        u_patience[r] = _unit_at(key, base_patience, k)
        u_experience[r] = _unit_at(key, base_experience, k)
    return largest


def _merge_sort(values, order, spare, n):  # pragma: no cover - compiled into the draw kernel
    """order[:n] = a stable argsort of values[:n] (bottom-up merge sort; `spare`, uint64, is its scratch)."""
    for j in range(n):
        order[j] = j
    width = 1
    src_is_order = True
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i = lo
            j = mid
            for out in range(lo, hi):
                if src_is_order:
                    a = order[i] if i < mid else 0
                    b = order[j] if j < hi else 0
                else:
                    a = np.int64(spare[i]) if i < mid else 0
                    b = np.int64(spare[j]) if j < hi else 0
                take_left = i < mid and (j >= hi or not values[b] < values[a])  # ties: the left (earlier) first
                pick = a if take_left else b
                if take_left:
                    i += 1
                else:
                    j += 1
                if src_is_order:
                    spare[out] = np.uint64(pick)
                else:
                    order[out] = pick
        src_is_order = not src_is_order
        width *= 2
    if not src_is_order:
        for j in range(n):
            order[j] = np.int64(spare[j])


def _step_poisson_kernel(keys, means, first, roots, step, counts, buys, segs, segment_first, partial, partial_first,
                         n_partial):  # pragma: no cover - runs compiled
    """KeyedRandom.poisson for the step's contacts and purchases (means and first = exp(-means): contacts' [:n],
    purchases' [n:2n]; roots = KeyedRandom.purpose_roots()). Returns (how many means need scipy: > 30, or nan;
    those are left at 0, the number of contacts). `first` is filled here: from segment_first (contacts [:n_seg],
    purchases [n_seg:]) for the customers exposed the whole step, from partial_first (2j, 2j + 1) for the
    customers partial[:n_partial] (see _exposure_kernel)."""
    n = keys.shape[0]
    n_seg = segment_first.shape[0] // 2
    for i in range(n):
        s = np.uint64(segs[i])
        first[i] = segment_first[s]
        first[n + i] = segment_first[n_seg + s]
    for j in range(n_partial):
        i = partial[j]
        first[i] = partial_first[2 * j]
        first[n + i] = partial_first[2 * j + 1]
    base_contacts = _step_base(roots[CONTACTS], step)
    base_purchases = _step_base(roots[PURCHASES], step)
    for i in range(n):  # branch-free over contiguous arrays (it vectorises): at most 3 events, 4 meaning more
        m = means[i]
        k = _walk_start(_unit(keys[i], base_contacts), m, first[i])
        counts[i] = k if m > 0.0 and m <= _SMALL_MEAN else 0
        m = means[n + i]
        k = _walk_start(_unit(keys[i], base_purchases), m, first[n + i])
        buys[i] = k if m > 0.0 and m <= _SMALL_MEAN else 0
    big = 0
    for i in range(n):
        m = means[i]
        if not m <= _SMALL_MEAN:
            big += 1
        elif counts[i] == 4:
            counts[i] = _walk(_unit(keys[i], base_contacts), m, first[i])
        m = means[n + i]
        if not m <= _SMALL_MEAN:
            big += 1
        elif buys[i] == 4:
            buys[i] = _walk(_unit(keys[i], base_purchases), m, first[n + i])
    total = 0
    for i in range(n):
        total += counts[i]
    return big, total


def _service_times_kernel(log_handle, log_patience, cseg, handle_minutes, handle_factor, patience_minutes,
                          minutes_per_day, handle, patience):  # pragma: no cover - runs compiled
    """Exp(1) = -log(u) times the segment's mean in days, as the numpy step computes them."""
    for r in range(handle.shape[0]):
        s = np.uint64(cseg[r])
        handle[r] = (-log_handle[r]) * (handle_minutes[s] * handle_factor / minutes_per_day)
        patience[r] = (-log_patience[r]) * (patience_minutes[s] / minutes_per_day)


def _customer_month_kernel(applies, who, segs, exposure, period_days, minutes, minute_rate, cost_to_serve, months,
                           sums):
    # pragma: no cover - runs compiled
    """A customer_month activity (Simulation._activities): the months of exposure of the customers it applies
    to, packed in months[:m] (numpy's sum of them, the volume, in sums[0]), each booked to its customer at the
    capacity cost rate. Returns m."""
    m = 0
    for i in range(who.shape[0]):
        if applies[np.uint64(segs[i])]:
            x = exposure[i] / period_days
            months[m] = x
            m += 1
            cost_to_serve[np.uint64(who[i])] += x * minutes * minute_rate
    sums[0] = pairwise_sum(months, m)
    return m


def _queue_kernel(exits, times, served, handle, period_days, last_period, period_end, step_end, minutes_per_day,
                  acc_served, acc_abandoned, acc_delayed, acc_wait, acc_busy, waits, queue, served_wait,
                  served_handle, served_desk, carry_times, carry_exits, sums):  # pragma: no cover - runs compiled
    """The numpy step's queue accounts: per period of leaving the queue, counts of served, abandoned and
    delayed contacts and the sums of waits and handle times (each summed from zero in contact order, then
    added, as np.bincount does); waits and queue time per contact and the served ones' wait minutes, handle
    and desk minutes packed, and numpy's sums of these five (sums); contacts still queued at the step's end.
    Returns (served, carried)."""
    bins = acc_served.shape[0]
    n_served = np.zeros(bins, np.int64)
    n_abandoned = np.zeros(bins, np.int64)
    n_delayed = np.zeros(bins, np.int64)
    wait_sum = np.zeros(bins)
    busy_sum = np.zeros(bins)
    m = 0
    carried = 0
    for r in range(exits.shape[0]):
        e = exits[r]
        a = times[r]
        w = e - a
        p = e / period_days
        p = p if p < last_period else last_period  # np.minimum (no nans here)
        b = int(p)
        if served[r]:
            n_served[b] += 1
            wait_sum[b] += w
            busy_sum[b] += handle[r]
            if w > 0:
                n_delayed[b] += 1
            served_wait[m] = w * minutes_per_day
            served_handle[m] = handle[r]
            served_desk[m] = handle[r] * minutes_per_day
            m += 1
        else:
            n_abandoned[b] += 1
        waits[r] = w
        queue[r] = (e if e < period_end else period_end) - a
        if e > step_end:
            carry_times[carried] = a
            carry_exits[carried] = e
            carried += 1
    for b in range(bins):
        acc_served[b] += n_served[b]
        acc_abandoned[b] += n_abandoned[b]
        acc_delayed[b] += n_delayed[b]
        acc_wait[b] += wait_sum[b]
        acc_busy[b] += busy_sum[b]
    n = exits.shape[0]
    sums[0] = pairwise_sum(waits, n)
    sums[1] = pairwise_sum(queue, n)
    sums[2] = pairwise_sum(served_desk, m)
    sums[3] = pairwise_sum(served_handle, m)
    sums[4] = pairwise_sum(served_wait, m)
    return m, carried


def _serve_and_book_kernel(log_handle, log_patience, cseg, handle_minutes, handle_factor, patience_minutes,
                           minutes_per_day, handle, patience, times, heap, exits, served, period_days, last_period,
                           period_end, step_end, acc_served, acc_abandoned, acc_delayed, acc_wait, acc_busy, raw_times,
                           uniforms0, uniforms1, uniforms2, queue_sums, who, normal, disposition, price_points,
                           keep_after, quality, noise, wait_penalty, abandon_penalty, minute_rate, who_all, counts,
                           owner, position, order, experience, contacts, satisfaction, cost_to_serve, seg_all, exposure,
                           buys, basket,
                           price_index, cogs_fraction, self_service_per_month, rate, self_service_cost, purchases,
                           revenue, cost_of_goods, applies,
                           activity_minutes, months, activity_sums, purchase_sums):  # pragma: no cover - runs compiled
    """The compiled step from the contacts' draws on, in one call: handle and patience times, the FCFS queue
    (service._fcfs_kernel on the servers' heap), the queue's accounts, the experiences, and the purchases with
    the self-service channel and the fused customer_month activities, each kernel as it runs alone, on the same
    buffers. Rows are reused once their use has ended: the logs of handle and patience times hold the served
    contacts' handle and desk minutes, raw times the waits, uniforms0 the queue times, uniforms1 the served
    contacts' wait minutes, uniforms2 and patience the contacts carried beyond the step; the experiences' scores
    and costs go to `experience`, in the customers' order. Returns (served, carried, purchases)."""
    _service_times_kernel(log_handle, log_patience, cseg, handle_minutes, handle_factor, patience_minutes,
                          minutes_per_day, handle, patience)
    _fcfs_kernel(times, handle, patience, heap, exits, served)
    served_n, carried = _queue_kernel(exits, times, served, handle, period_days, last_period, period_end, step_end,
                                      minutes_per_day, acc_served, acc_abandoned, acc_delayed, acc_wait, acc_busy,
                                      raw_times, uniforms0, uniforms1, log_handle, log_patience, uniforms2, patience,
                                      queue_sums)
    _contacts_kernel(who, cseg, served, exits, times, handle, normal, disposition, price_points, keep_after, quality,
                     noise, wait_penalty, abandon_penalty, minutes_per_day, minute_rate, who_all, counts, owner,
                     position, order, contacts, satisfaction, cost_to_serve, experience)
    n_buys = _purchases_kernel(who_all, seg_all, exposure, buys, basket, price_index, cogs_fraction,
                               self_service_per_month, rate, self_service_cost, purchases, revenue, cost_of_goods,
                               cost_to_serve, applies, activity_minutes, period_days, minute_rate, months,
                               activity_sums, purchase_sums)
    return served_n, carried, n_buys


_DRAW_CONTACTS = LazyKernel(
    _draw_contacts_kernel,
    "int64(int64[::1], int32[::1], uint64[::1], float64[::1], float64[::1], int64[::1], uint64[::1], int64, "
    "float64, float64, int64[::1], uint64[::1], float64[::1], float64[::1], int64[::1], int64[::1], "
    "uint64[::1], uint64[::1], int64[::1], int32[::1], float64[::1], float64[::1], float64[::1], float64[::1], "
    "float64[::1], float64[::1])",
    (*keyed.HASH_HELPERS, _merge_sort))
_STEP_POISSON = LazyKernel(
    _step_poisson_kernel,
    "UniTuple(int64, 2)(uint64[::1], float64[::1], float64[::1], uint64[::1], int64, int64[::1], int64[::1], "
    "int32[::1], float64[::1], int64[::1], float64[::1], int64)",
    keyed.HASH_HELPERS)
_CUSTOMER_MONTH = LazyKernel(
    _customer_month_kernel,
    "int64(boolean[::1], int64[::1], int32[::1], float64[::1], float64, float64, float64, float64[::1], "
    "float64[::1], float64[::1])", PAIRWISE)
_SERVE_AND_BOOK = LazyKernel(
    _serve_and_book_kernel,
    "UniTuple(int64, 3)("
    "float64[::1], float64[::1], int32[::1], float64[::1], float64, float64[::1], float64, float64[::1], "
    "float64[::1], float64[::1], float64[::1], float64[::1], boolean[::1], float64, float64, float64, "
    "float64, float64[::1], float64[::1], float64[::1], float64[::1], float64[::1], float64[::1], "
    "float64[::1], float64[::1], float64[::1], float64[::1], int64[::1], float64[::1], float64[::1], "
    "float64[::1], float64[::1], float64, float64, float64, float64, float64, int64[::1], int64[::1], "
    "int64[::1], int64[::1], int64[::1], float64[::1], int64[::1], float64[::1], float64[::1], "
    "int32[::1], float64[::1], "
    "int64[::1], float64[::1], float64, float64[::1], float64[::1], float64, float64[::1], int64[::1], "
    "float64[::1], float64[::1], boolean[::1], "
    "float64[::1], float64[::1], float64[::1], float64[::1]"
    ")",
    (_service_times_kernel, _fcfs_kernel, _fcfs_heap, _queue_kernel, _contacts_kernel, _purchases_kernel,
     customer_kernels._purchase_terms, customer_kernels._clip, *PAIRWISE))


def _step_kernels() -> tuple | None:
    """The compiled step's kernels (compiled, or loaded from the disk cache), or None: then the numpy step."""
    lazies = (customer_kernels.ACTIVE, customer_kernels.EXPOSURE, _STEP_POISSON, _DRAW_CONTACTS, _SERVE_AND_BOOK,
              _CUSTOMER_MONTH, customer_kernels.STATE, customer_kernels.EXPONENT, _NDTRI)
    kernels = tuple(lazy.get() for lazy in lazies)
    return None if any(k is None for k in kernels) else kernels
