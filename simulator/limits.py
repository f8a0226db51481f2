"""Limits on what one command may ask for, checked before any work starts (one line, exit code 2).

Argument bounds (argparse types, so a bad value is refused while the command line is read):

    --workers        1 .. 4 x the cores of this machine (MAX_WORKERS_PER_CORE)
    --replications   1 .. 10,000 (the file format's run.replications cap)
    --draws          1 .. 100,000 (the file format's uncertainty.draws cap)
    --months         1 .. 600 (the file format's metadata.horizon_months cap)
    --sample lhs:N   N from 1 to 100,000; a batch holds at most 100,000 variants per file
    --permutations   1 .. 10,000 (spc explain: sampled orders per replication, each up to one run per group)

The preflight estimate (`preflight`) refuses, unless `--force` is given, a job that would not fit:

    customers  = sum over segments of initial_customers + acquisition_per_month x months
    contacts   = sum over segments of customers x (contacts_per_month + self-service contacts) x months
    run time   = runs x (1.5 ms x months + 0.15 us x (customers x months + contacts)) / workers
    memory     = customers x 600 bytes x runs kept in memory (spc run, report, tui keep every ledger)
                 + (customers x 600 bytes + a week of contacts x 200 bytes) x 2 runs in flight per worker

and refuses when the memory is above 80% of the memory available now, or the run time above 24 hours.
The constants are measured on the shipped scenarios (a run's time and peak memory), rounded up; the
estimate is meant to catch a job that is off by orders of magnitude, not to predict a run to the second.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

from simulator.errors import UsageError

MAX_WORKERS_PER_CORE = 4
MAX_REPLICATIONS = 10_000
MAX_DRAWS = 100_000
MAX_MONTHS = 600
MAX_SAMPLES = 100_000
MAX_VARIANTS = 100_000
MAX_PERMUTATIONS = 10_000

SECONDS_PER_MONTH = 1.5e-3
SECONDS_PER_EVENT = 0.15e-6  # one customer-month or one contact
BYTES_PER_CUSTOMER = 600
BYTES_PER_CONTACT = 200
IN_FLIGHT_PER_WORKER = 2
MEMORY_SHARE = 0.8
MAX_SECONDS = 24 * 3600


def cores() -> int:
    return os.cpu_count() or 1


def max_workers() -> int:
    return MAX_WORKERS_PER_CORE * cores()


def _whole(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None


def bounded_int(what: str, high: int, why: str):
    """An argparse type: a whole number from 1 to `high` (`why` says where the cap comes from)."""

    def parse(value: str) -> int:
        number = _whole(value)
        if not 1 <= number <= high:
            raise argparse.ArgumentTypeError(f"{what} is 1 to {high:,} ({why}), got {number:,}")
        return number

    parse.__name__ = what.replace(" ", "_")  # argparse names the type in some messages
    return parse


def workers_arg(value: str) -> int:
    number = _whole(value)
    if not 1 <= number <= max_workers():
        raise argparse.ArgumentTypeError(f"worker processes are 1 to {max_workers()} ({MAX_WORKERS_PER_CORE} x the "
                                         f"{cores()} cores of this machine), got {number:,}")
    return number


replications_arg = bounded_int("replications", MAX_REPLICATIONS, "the file format's cap")
draws_arg = bounded_int("draws", MAX_DRAWS, "the file format's cap")
months_arg = bounded_int("a horizon", MAX_MONTHS, "months, the file format's cap")
permutations_arg = bounded_int("permutations", MAX_PERMUTATIONS, "sampled orders per replication")


EXECUTORS = ("local", "processes", "dask")  # simulator.batch.executors.EXECUTORS (not imported: keeps --help fast)


def add_executor_args(parser: argparse.ArgumentParser, store: str, resume: str) -> None:
    """--workers, --executor, --scheduler and --store, as every command that runs a design through the store has
    them (`store` is the default database, `resume` says what a rerun reuses)."""
    parser.add_argument("--workers", type=workers_arg, help="worker processes (default: all cores)")
    parser.add_argument("--executor", choices=EXECUTORS, default="processes",
                        help="where runs go (default: processes)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="with --executor dask: a running scheduler, tcp://host:8786")
    parser.add_argument("--store", default=store, metavar="FILE",
                        help=f"results database; a rerun {resume} (default: {store})")


def add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="run even when the preflight estimate says the job will not fit in memory or a day")


# ---- the preflight estimate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    runs: int
    seconds: float
    bytes: float
    available: float | None

    def text(self) -> str:
        return (f"{self.runs:,} runs, about {_duration(self.seconds)} and {_size(self.bytes)} of memory"
                + (f" ({_size(self.available)} available)" if self.available else ""))


def _segments(scenario) -> list[tuple[float, float, float]]:
    """(initial customers, acquisitions a month, contacts a customer-month) per segment, from a Scenario or
    from validated scenario data (a batch variant: the defaults of the file format fill what it leaves out)."""
    if isinstance(scenario, dict):
        return [(float(s.get("initial_customers", 0)), float(s.get("acquisition_per_month", 0.0)),
                 float(s.get("contacts_per_month", 1.0)) + float(s.get("self_service_contacts_per_month", 0.0)))
                for s in scenario.get("segments") or []]
    return [(s.initial_customers, s.acquisition_per_month, s.contacts_per_month + s.self_service_contacts_per_month)
            for s in scenario.segments]


def _period_days(scenario) -> float:
    if isinstance(scenario, dict):
        return float((scenario.get("metadata") or {}).get("period_days", 30.4375))
    return scenario.metadata.period_days


def customers(scenario, months: int) -> float:
    """Customers ever active over `months`: the initial base plus the acquisitions at the written rate."""
    return float(sum(initial + acquired * months for initial, acquired, _ in _segments(scenario)))


def _contacts_per_month(scenario, months: int) -> float:
    return float(sum((initial + acquired * months) * contacts for initial, acquired, contacts in _segments(scenario)))


def run_cost(scenario, months: int) -> tuple[float, float, float]:
    """(seconds, bytes of its customers, bytes of a week of its contacts) of one run over `months`."""
    people = customers(scenario, months)
    contacts = _contacts_per_month(scenario, months)
    seconds = SECONDS_PER_MONTH * months + SECONDS_PER_EVENT * (people * months + contacts * months)
    week = contacts * 7 / _period_days(scenario)
    return seconds, people * BYTES_PER_CUSTOMER, week * BYTES_PER_CONTACT


def available_memory() -> float | None:
    """Bytes of memory available now (MemAvailable), or None where the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def estimate(jobs: Iterable[tuple[object, int, int]], workers: int, kept: bool) -> Estimate:
    """jobs: (scenario, months, runs). kept: every run's customer ledger stays in memory (spc run, report, tui);
    otherwise runs stream to a store and only those in flight hold memory (batch, decide, sensitivity)."""
    workers = max(1, workers)
    total_runs, seconds, held, largest = 0, 0.0, 0.0, 0.0
    for scenario, months, runs in jobs:
        s, people, week = run_cost(scenario, months)
        total_runs += runs
        seconds += runs * s
        largest = max(largest, people + week)
        if kept:
            held += runs * people
    memory = held + largest * IN_FLIGHT_PER_WORKER * workers
    return Estimate(total_runs, seconds / workers, memory, available_memory())


def preflight(jobs: Iterable[tuple[object, int, int]], workers: int, kept: bool, force: bool) -> Estimate:
    """The estimate, or a UsageError saying how large the job is when it would not fit (unless `force`)."""
    est = estimate(jobs, workers, kept)
    if force:
        return est
    if est.available and est.bytes > MEMORY_SHARE * est.available:
        raise UsageError(f"too large for this machine: {est.text()}; use fewer replications, months, draws or "
                         "customers, or --force to run it anyway")
    if est.seconds > MAX_SECONDS:
        raise UsageError(f"too long: {est.text()} on {workers} worker(s) (more than {MAX_SECONDS // 3600} hours); use "
                         "fewer replications, months or draws, or --force to run it anyway")
    return est


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds:.0f} s"


def _size(n: float | None) -> str:
    n = float(n or 0)
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        scale = {"TiB": 2**40, "GiB": 2**30, "MiB": 2**20, "KiB": 2**10}[unit]
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:.0f} B"
