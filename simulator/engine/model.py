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
from dataclasses import dataclass

import numpy as np
import simpy

from simulator.engine.customers import CustomerBase
from simulator.engine.policy import Policy
from simulator.engine import rng as keyed
from simulator.engine.rng import KeyedRandom, within_group_index
from simulator.engine.service import FCFSServers
from simulator.graph.compiler import CompiledModel
from simulator.graph.network import NetworkState
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


class Workforce:
    """Employees as small parallel lists (tens to thousands of people: lists are the right size of tool).

    Each employee is the j-th person ever on the payroll (the initial staff first, then hires in order),
    the same person in every strategy, and quits on an exponential clock: when the quit hazard accumulated
    since joining crosses an Exp(1) budget keyed by j.
    """

    def __init__(self, headcount: int, ramp_days: float, rng: KeyedRandom):
        self.rng = rng
        self.hire_days: list[float] = [-math.inf] * headcount
        self.ordinals: list[int] = list(range(headcount))
        self.hazard_used: list[float] = [0.0] * headcount
        self.budgets: list[float] = self._budgets(self.ordinals)
        self.next_ordinal = headcount
        self.ramp_days = ramp_days
        self.pipeline = 0

    def _budgets(self, ordinals: list[int]) -> list[float]:
        if not ordinals:
            return []
        return self.rng.exponential(keyed.EMPLOYEES, np.asarray(ordinals, dtype=np.uint64)).tolist()

    @property
    def headcount(self) -> int:
        return len(self.hire_days)

    def hire(self, day: float) -> None:
        self.hire_days.append(day)
        self.ordinals.append(self.next_ordinal)
        self.hazard_used.append(0.0)
        self.budgets.extend(self._budgets([self.next_ordinal]))
        self.next_ordinal += 1

    def _keep(self, keep: list[int]) -> None:
        self.hire_days = [self.hire_days[i] for i in keep]
        self.ordinals = [self.ordinals[i] for i in keep]
        self.hazard_used = [self.hazard_used[i] for i in keep]
        self.budgets = [self.budgets[i] for i in keep]

    def quits(self, hazard_dt: float) -> int:
        """Advance every clock by the step's hazard; those whose budget is used up quit. Returns how many."""
        used = [h + hazard_dt for h in self.hazard_used]
        self.hazard_used = used
        stay = [i for i, (h, b) in enumerate(zip(used, self.budgets, strict=True)) if h < b]
        n_quits = len(used) - len(stay)
        if n_quits:
            self._keep(stay)
        return n_quits

    def cut_to(self, target: int) -> int:
        """Redundancies down to `target`: the most recent hires leave first. Returns how many left."""
        excess = self.headcount - target
        if excess <= 0:
            return 0
        order = sorted(range(self.headcount), key=lambda i: (self.hire_days[i], self.ordinals[i]))
        self._keep(sorted(order[:target]))
        return excess

    def productive_fte(self, now: float) -> float:
        if self.ramp_days <= 0:
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
        self.network = NetworkState(model)
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
        self.node_values = {name: np.zeros(self.n_periods) for name in self.node_names}
        self.activity_volume = {act.name: np.zeros(self.n_periods + 1) for act in sc.activities}
        self.base_basket = np.array([s.basket if s.basket > 0 else 1.0 for s in sc.segments])
        self.step_practical_minutes = 0.0
        self.step_used_minutes = 0.0
        self.levels = {c: np.zeros(self.n_periods) for c in ("headcount", "productive_fte", "active_customers",
                                                             "customer_satisfaction", "nps", "contacts_waiting")}

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
        return RunOutput(self.strategy, self.replication, self._period_table(), self.customers.ledger(
            self.horizon, self.P), self.events)

    def _initiative(self, ini):
        start, end = self.policy.start_day(ini), self.policy.end_day(ini)
        if start >= self.horizon:
            return
        yield self.env.timeout(start)
        self.events.append((self.env.now, f"initiative {ini.name} starts"))
        if end < self.horizon:
            yield self.env.timeout(end - start)
            self.events.append((self.env.now, f"initiative {ini.name} stops"))

    def _vacancy(self):
        self.staff.pipeline += 1
        yield self.env.timeout(self.sc.employees.hiring_lag_days)
        self.staff.pipeline -= 1
        if self.staff.headcount < round(self.ports["headcount_target"]):
            self.staff.hire(self.env.now)
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
        levers = self.policy.levers(t, self.references)
        effects = self.policy.link_effects(t, self.base_effects)
        values = self.network.step(dt, self.observed, levers, effects)
        self._read_ports(values)
        self._staffing(t, dt, period)
        seg_params = self._segment_parameters(t)
        obs = self._serve_and_trade(t, dt, period, seg_params)
        self._money(t, dt, period)
        self.observed = obs
        self.step_index += 1

    def _segment_parameters(self, t: float) -> dict[str, np.ndarray]:
        out = {}
        for param in SEGMENT_PARAMETERS:
            values = []
            for seg in self.sc.segments:
                base = getattr(seg, param)
                base = math.inf if base is None else float(base)
                values.append(self.policy.segment_values(t, seg.name, param, base) if self.policy.initiatives else base)
            out[param] = np.asarray(values, dtype=float)
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
        for _ in range(max(0, target - self.staff.headcount - self.staff.pipeline)):
            self.env.process(self._vacancy())
        fte = self.staff.productive_fte(t)
        self.servers.set_servers(self._servers_for(fte), t)
        self.acc["server_days"][period] += self.servers.servers * dt
        self.acc["headcount_days"][period] += self.staff.headcount * dt
        self.acc["wages"][period] += self.staff.headcount * emp.annual_salary / YEAR_DAYS * dt
        self.step_practical_minutes = self.staff.headcount * dt * emp.minutes_per_day * emp.practical_capacity
        self.step_used_minutes = 0.0

    def _serve_and_trade(self, t: float, dt: float, period: int, seg: dict[str, np.ndarray]) -> dict[str, float]:
        """Churn, acquisition, contacts (served FCFS), experiences and purchases of one step.

        Each customer is exposed for the part of the step it is active: leavers until they leave, new
        customers from the day they join, so contacts and purchases are exact in expectation.
        """
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
        sat, nps = cust.satisfaction_and_nps()
        return {
            "headcount": float(self.staff.headcount),
            "productive_fte": self.staff.productive_fte(t + dt),
            "utilisation": float(handle[served].sum() / (self.servers.servers * dt)) if self.servers.servers else 1.0,
            "mean_wait_minutes": float(wait_minutes[served].mean()) if served_n else 0.0,
            "abandonment_rate": float(1 - served_n / n) if n else 0.0,
            "contacts_served": served_n * per_month,
            "active_customers": float(cust.active_count),
            "customers_won": joined.size * per_month,
            "customers_lost": leavers.size * per_month,
            "customer_satisfaction": sat,
            "nps": nps,
            "employee_quits": self.step_quits * per_month,
            "revenue": float(revenue.sum()) * per_month,
        }

    def _book_activity(self, act, period: int, volume: float, customers: np.ndarray | None = None,
                       per_customer: np.ndarray | None = None) -> None:
        """Time-driven ABC: `volume` occurrences of an activity use `volume x minutes` of the staff pool; their
        cost (at the capacity cost rate) is an allocation of wages to the customers who drove them, not a cost."""
        minutes = volume * act.minutes
        self.step_used_minutes += minutes
        self.acc["activity_minutes"][period] += minutes
        self.activity_volume[act.name][period] += volume
        if customers is not None and customers.size:
            self.customers.cost_to_serve[customers] += per_customer * act.minutes * self.minute_rate

    def _activities(self, idx: np.ndarray, segs: np.ndarray, exposure: np.ndarray, period: int,
                    contact_who: np.ndarray, buys: np.ndarray) -> None:
        for act in self.sc.activities:
            if act.driver == "customer_month":
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
        segs = self.customers.segment[joined]
        for act in self.sc.activities:
            if act.driver == "new_customer":
                who = joined[self._segment_mask(act, segs)]
                self._book_activity(act, period, float(who.size), who, np.ones(who.size))

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
        for act in self.sc.activities:  # a fixed workload: occurrences per month, driven by no customer
            if act.driver == "month":
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
        sat, nps = cust.satisfaction_and_nps()
        self.levels["headcount"][period] = self.staff.headcount
        self.levels["productive_fte"][period] = self.staff.productive_fte(period_end)
        self.levels["active_customers"][period] = cust.active_count
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


def run_once(model: CompiledModel, strategy: str, replication: int, seed: int, months: int | None = None) -> RunOutput:
    """Simulate one strategy for one replication."""
    return Simulation(model, strategy, replication, seed, months).run()
