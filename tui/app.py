"""`spc tui`: open a scenario, move levers, watch the strategies' comparison refine as replications stream in.

The app holds no model logic: it loads and validates through `simulator`, runs through `simulator.live`
in a thread worker, and hands each `RunSnapshot` to the views.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from simulator import (
    CompiledModel,
    LoadedScenario,
    Problem,
    ScenarioError,
    UsageError,
    compile_loaded,
    load,
    shipped_scenarios,
)
from simulator.graph.compiler import compile_scenario
from simulator.live import LiveRun, WorkerPool
from simulator.scenario.levers import apply, levers, save_override
from simulator.scenario.loader import content_hash, load_data
from tui.decision import DecisionSnapshot, decide, decision_cost
from tui.heap import CHECK_EVERY, QuietCollector
from tui.messages import (
    DecisionCancelled,
    DecisionFailed,
    DecisionFinished,
    DecisionRefined,
    DecisionStarted,
    LeverEdited,
    ReplicationFinished,
    RunCancelled,
    RunFailed,
    RunFinished,
    ScenarioFailed,
    ScenarioOpened,
)
from tui.runner import stream
from tui.screens.browser import ScenarioBrowser
from tui.screens.help import HelpScreen
from tui.screens.save import SaveScreen
from tui.snapshot import RunSnapshot
from tui.widgets.cached import SteadyFooter
from tui.widgets.causal_map import CausalMapView, NodeSelected, explanation_text
from tui.widgets.comparison import NO_SCENARIO, WAITING, ComparisonView
from tui.widgets.customers import CustomerView
from tui.widgets.decision import DecisionView
from tui.widgets.levers import LeverPanel
from tui.widgets.scorecard import ScorecardView
from tui.widgets.status import RunStatus
from tui.widgets.timeseries import TimeSeriesView

TABS = (("comparison", "1 Comparison"), ("scorecard", "2 Scorecard"), ("timeseries", "3 Time series"),
        ("causal", "4 Causal map"), ("customers", "5 Customers"), ("decision", "6 Decision"))
COMMANDS = (  # every action, by name, for the command palette (ctrl+p)
    ("open", "Open scenario", "Browse the scenarios folder or type a path"),
    ("rerun", "Run again", "Re-run the comparison now"),
    ("cancel", "Cancel run", "Stop the running simulation (on the Decision tab: the decision)"),
    ("decide", "Decide under uncertainty", "Run every strategy over draws of the uncertain assumptions (Decision tab)"),
    ("save", "Save edited scenario", "Write an extends: file holding only the changes"),
    ("toggle_levers", "Toggle lever panel", "Show or hide the levers"),
    ("toggle_auto", "Toggle automatic re-run", "Re-run after each lever edit, or only on r"),
    ("highlight", "Highlight next strategy", "Show its 95% band in the time series"),
    ("pin", "Pin results / unpin", "Keep these results: after a lever edit the tables show before → after"),
    ("toggle_theme", "Toggle light/dark theme", "Switch between the light and the dark theme"),
    ("help", "Help", "Keys and what each view shows"),
    ("calibrate", "Calibration to history…", "Fit the scenario to a monthly history: charts, fit statistics (C)"),
    ("portfolio", "Customer portfolio…", "Fit a transaction export: equity, parameters, whale curve, customers (P)"),
)
LEVERS_MIN_WIDTH = 110
COMPACT_FOOTER_BELOW = 110  # columns under which the footer drops its padding and the palette key (^p still works)
REFRESH_EVERY = 0.3  # seconds between redraws of the views while replications stream in
PANELS_AFTER = 5.0  # seconds after opening when the levers and causal map are built if the first run is still going
STATUS_EVERY = 0.2  # seconds between updates of the status line while replications stream in
SCENARIOS = shipped_scenarios()


def shown_path(path: Path) -> str:
    """A path relative to the working directory when under it (short, and the same on every machine)."""
    rel = os.path.relpath(Path(path).resolve())
    return rel if not rel.startswith("..") else str(path)


class SpcApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "spc"
    SUB_TITLE = "service-profit chain"
    BINDINGS = [
        Binding("o", "open", "Open"),
        Binding("r", "rerun", "Run"),
        Binding("c", "cancel", "Cancel"),
        Binding("s", "save", "Save"),
        Binding("l", "toggle_levers", "Levers"),
        Binding("d", "decide", "Decide"),
        Binding("p", "pin", "Pin"),
        Binding("a", "toggle_auto", "Auto-run", show=False),
        Binding("h", "highlight", "Highlight", show=False),
        Binding("t", "toggle_theme", "Theme", show=False),
        Binding("question_mark,f1", "help", "Help"),
        Binding("P", "portfolio", "Portfolio", show=False),
        Binding("C", "calibrate", "Calibrate", show=False),
        Binding("q", "quit", "Quit"),
        *(Binding(str(i), f"show_tab('{tab}')", label, show=False) for i, (tab, label) in enumerate(TABS, start=1)),
    ]

    def __init__(self, path: str | Path | None = None, *, replications: int | None = None, seed: int | None = None,
                 months: int | None = None, workers: int | None = None, folders: Iterable[Path] = (),
                 timings: bool = True, debounce: float = 0.8, store: str | Path | None = None,
                 stored_run: int | None = None, pool: WorkerPool | None = None,
                 decide_draws: int | None = None, defer_pool: bool = False) -> None:
        super().__init__()
        self.decide_draws = decide_draws  # draws of a decision (d); None: the scenario's uncertainty.draws
        self.decision_id = 0
        self.deciding = False
        self.decisions: list[DecisionSnapshot] = []  # every DecisionFinished snapshot received (tests)
        # per decision still running: (stop, closed) events; stop makes it end at its next stored chunk, closed is
        # set once its worker processes are closed and its temporary database removed
        self._decision_events: dict[int, tuple[threading.Event, threading.Event]] = {}
        self.store, self.stored_run = store, stored_run
        self.initial_path = str(path) if path else None
        self.replications, self.seed, self.months = replications, seed, months
        self.worker_count = workers
        self.folders = [SCENARIOS, *map(Path, folders)]
        self.timings = timings
        self.debounce = debounce
        self.auto_run = True
        # started here, before the UI starts, so the workers import the engine while the screen comes up; or,
        # with defer_pool (a served session: the page shows a splash until the first frame), right after it
        self._defer_pool = defer_pool and pool is None and (workers or 2) > 1
        self.pool: WorkerPool | None = pool if pool is not None or self._defer_pool else (
            WorkerPool(workers) if (workers or 2) > 1 else None)
        self.loaded: LoadedScenario | None = None
        self.model: CompiledModel | None = None
        self.changes: dict[str, float | None] = {}
        self.live: LiveRun | None = None
        self.run_id = 0
        self.snapshot: RunSnapshot | None = None
        self.highlight: str | None = None
        self.opened_at = 0.0
        self.first_run_id = 0  # the run started on opening: only its line tells the time from opening
        # seconds after opening to the first replication, the first recommendation shown and the full comparison
        self.measured: dict[str, float] = {}
        self.finished_runs: list[RunSnapshot] = []  # every RunFinished received for the current run (tests, bench)
        self._rerun_timer: Timer | None = None
        self._refresh_timer: Timer | None = None
        self._status_timer: Timer | None = None
        self._causal_model: CompiledModel | None = None  # the model the causal map shows
        self._status_at = 0.0  # perf_counter of the last status line update
        self._panels_pending: tuple[LoadedScenario, CompiledModel] | None = None
        self._rendered: dict[str, object] = {}  # view -> what it last drew (a snapshot, analysis or frame)
        self._input_at = 0.0  # perf_counter of the last key press (the run's heavy work waits after one)
        self.collector = QuietCollector(lambda: time.perf_counter() - self._input_at)  # full collections when quiet
        self.pinned = None  # the Analysis pinned with p: the comparison and scorecard show changes against it
        self._pin_pending = False  # p pressed while a run streams: pin it when it finishes

    # ---- layout ---------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # the views are kept as attributes: a query from a modal screen (help, browser) would not find them
        self.errors = Static("", id="errors")
        self.lever_panel = LeverPanel(id="levers")
        self.tabs = TabbedContent(id="tabs")
        self.comparison, self.scorecard = ComparisonView(), ScorecardView()
        self.timeseries, self.causal_map, self.customer_view = TimeSeriesView(), CausalMapView(), CustomerView()
        self.decision_view = DecisionView(timings=self.timings)
        self.status = RunStatus(id="status", timings=self.timings)
        yield Header(icon="◆")
        yield self.errors
        with Horizontal(id="body"):
            yield self.lever_panel
            with Vertical(id="main"), self.tabs:
                views = (self.comparison, self.scorecard, self.timeseries, self.causal_map, self.customer_view,
                         self.decision_view)
                for (tab, label), view in zip(TABS, views, strict=True):
                    with TabPane(label, id=tab):
                        yield view
        yield self.status
        yield SteadyFooter()

    def on_resize(self) -> None:
        """At 80 columns the footer goes compact, so '? Help' and 'q Quit' stay on screen."""
        narrow = self.size.width < COMPACT_FOOTER_BELOW
        for footer in self.screen.query(Footer):
            footer.compact = narrow
            footer.show_command_palette = not narrow
        for bar in self.query("#run-progress"):  # the run line's text first
            bar.styles.width = 12 if narrow else 30

    def on_mount(self) -> None:
        self.collector.start()
        self.set_interval(CHECK_EVERY, self.collector.check)
        self.theme = "textual-dark"
        self.on_resize()
        if self.size.width < LEVERS_MIN_WIDTH:  # at 80 columns the tables need the room; l shows the panel
            self.lever_panel.display = False
        self.comparison.query_one("#comparison-table").focus()  # keys scroll the table, not a hidden lever
        if self._defer_pool:  # the first frame first, then the pool, then the scenario (whose run takes the pool)
            self.call_after_refresh(self._start_pool)
        else:
            self._open_first()

    def _open_first(self) -> None:
        if self.store is not None and self.stored_run is not None:
            self.open_stored_run(self.store, self.stored_run)
        elif self.initial_path:
            self.open_scenario(self.initial_path)
        else:
            self.action_open()

    def _start_pool(self) -> None:
        """The deferred worker pool, once the first frame is out; then what to open (its run takes the pool)."""
        if self.pool is None:
            self.pool = WorkerPool(self.worker_count)
        self._open_first()

    def on_unmount(self) -> None:
        self.collector.stop()
        if self.live is not None:
            self.live.cancel()
        for stop, _ in list(self._decision_events.values()):
            stop.set()  # a decision stops at its next stored chunk (well under a second), then closes its processes
        for _, closed in list(self._decision_events.values()):
            closed.wait(10)
        if self.pool is not None:
            self.pool.shutdown()

    # ---- opening ----------------------------------------------------------------------------------------
    def open_scenario(self, path: str) -> None:
        self.opened_at = time.perf_counter()
        self.measured = {}
        self.status.message(f"Opening {path}…")
        self._load(path)

    @work(thread=True, group="load", exclusive=True)
    def _load(self, path: str) -> None:
        try:
            loaded = load(path)
            self.post_message(ScenarioOpened(loaded, compile_loaded(loaded)))
        except ScenarioError as exc:
            self.post_message(ScenarioFailed(path, exc.problems))
        except (OSError, UsageError, ValueError) as exc:
            self.post_message(ScenarioFailed(path, [Problem(path, 0, 0, str(exc))]))

    def on_scenario_opened(self, message: ScenarioOpened) -> None:
        if not self.status.is_attached:
            return
        self.loaded, self.model, self.changes = message.loaded, message.model, {}
        sc = message.model.scenario
        self.sub_title = f"{sc.metadata.name} · {shown_path(message.loaded.path)}"
        self.errors.update("")
        self.errors.display = False
        self.highlight = None
        self._pin_pending = False
        self.pin_results(None)  # another scenario: the pinned results are of other strategies and KPIs
        self.stop_decision(stale=True)
        self.decision_view.prepare(decision_cost(message.loaded, self.decide_draws),
                                   bool(message.loaded.scenario.uncertainty.assumptions))
        self.start_run()
        self.first_run_id = self.run_id
        # Building the panels (two hundred widgets, styled and laid out: ~0.2 s of the UI process) competes with
        # the first run for the cores, so it waits for that run to end, or PANELS_AFTER seconds of a long one.
        self._panels_pending = (message.loaded, message.model)
        self.lever_panel.waiting(f"The levers appear when this run ends, or within {PANELS_AFTER:.0f} s.")
        self.set_timer(PANELS_AFTER, self._build_panels)

    def _build_panels(self) -> None:
        if self._panels_pending is None:
            return
        loaded, model = self._panels_pending
        self._panels_pending = None
        self.lever_panel.show_levers(levers(loaded.data), {}, loaded.scenario)
        self._show_causal_map(model)
        self.call_after_refresh(self._settle_heap)

    def _settle_heap(self, full: bool = False) -> None:
        """Take what is alive now (the panels' two hundred widgets, the views and their render caches, the modules
        the analysis imported: some 100,000 objects) out of the garbage collector's full collections, as the run's
        thread does for what is alive when it starts: each full collection walked them all, 70–130 ms of the UI
        thread, and one landed in a key press every few presses. Young cycles are collected first; objects freed
        later are still freed, only cycles among them wait. `full` (a run has just finished): unfreeze and collect
        everything first, so cycles frozen during one run are freed after it and nothing piles up over a session."""
        if full:
            gc.unfreeze()
            gc.collect()
        else:
            gc.collect(1)
        gc.freeze()

    def _show_causal_map(self, model: CompiledModel) -> None:
        if self._causal_model is not model:
            self._causal_model = model
            self.causal_map.show_model(model)

    # ---- a stored run (spc batch) ------------------------------------------------------------------------
    def open_stored_run(self, store: str | Path, run_id: int) -> None:
        self.opened_at = time.perf_counter()
        self.status.message(f"Reading run {run_id} from {store}…")
        self._load_stored(str(store), run_id)

    @work(thread=True, group="load", exclusive=True)
    def _load_stored(self, store: str, run_id: int) -> None:
        from simulator.analysis.run_analysis import analyse
        from simulator.store import load_run

        try:
            run = load_run(store, run_id)
            model = run.model()
            analysis = analyse(model, run.scenario_hash, run.timeseries, run.customers, run.strategies,
                               run.replications, run.seed, run.months)
        except (ScenarioError, UsageError, OSError, ValueError) as exc:
            first = exc.problems[0] if isinstance(exc, ScenarioError) else exc
            self.post_message(ScenarioFailed(f"{store} run {run_id}", [Problem(store, 0, 0, str(first))]))
            return
        self.call_from_thread(self._show_stored, run, model, analysis)

    def _show_stored(self, run, model: CompiledModel, analysis) -> None:
        """Show a finished run from the results database; levers stay off (it is a record, not a scenario file)."""
        self.model, self.loaded, self.changes = model, None, {}
        self.comparison.set_idle(WAITING)
        self.run_id += 1
        self.live = LiveRun(model, run.scenario_hash, tuple(run.strategies), run.replications, run.seed, run.months)
        self.live.cancel()
        self.sub_title = f"{run.scenario_name} · stored run {run.run_id} ({'complete' if run.complete else 'partial'})"
        self.lever_panel.display = False
        self._show_causal_map(model)
        done = len(run.strategies) * run.replications
        snap = RunSnapshot(self.run_id, done, done, run.replications, run.replications, 0.0, run.timeseries, analysis)
        self._show(snap, f"Stored run {run.run_id}")

    def on_scenario_failed(self, message: ScenarioFailed) -> None:
        if not self.status.is_attached:
            return
        errors = self.errors
        lines = [str(p) for p in message.problems[:8]]
        more = len(message.problems) - len(lines)
        kept = "the previous scenario stays loaded" if self.model is not None else "no scenario is open yet"
        errors.update("[b red]Cannot open this scenario[/]\n" + "\n".join(lines) + (f"\n… {more} more" if more else "")
                      + f"\n[dim]Fix the file and press o to open it again; {kept}.[/]")
        if self.model is None:
            self.comparison.set_idle(NO_SCENARIO)
        errors.display = True
        self.status.message(f"{message.path}: {len(message.problems)} problem(s)")
        self.notify(lines[0] if lines else "cannot open", title="Scenario not opened", severity="error")

    # ---- running ----------------------------------------------------------------------------------------
    def start_run(self) -> None:
        if self.model is None:
            return
        self.comparison.set_idle(WAITING)
        if self.live is not None:
            self.live.cancel()
        sc = self.model.scenario
        self.run_id += 1
        self.live = LiveRun(self.model, content_hash(sc.as_data()), tuple(sc.strategy_names()),
                            int(self.replications or sc.run.replications), int(self.seed if self.seed is not None
                                                                               else sc.run.seed),
                            int(self.months or sc.metadata.horizon_months), self.pool)
        self.status.message(f"Running {len(self.live.tasks)} runs…")
        self._stream(self.live, self.run_id)

    @work(thread=True, group="run")
    def _stream(self, live: LiveRun, run_id: int) -> None:
        kinds = {"replication": ReplicationFinished, "finished": RunFinished, "cancelled": RunCancelled}
        try:
            stream(live, run_id, lambda kind, snap: self.post_message(kinds[kind](snap)),
                   wants_partial=lambda: self.tabs.active == "timeseries",
                   wants_scorecard=lambda: self.tabs.active == "scorecard",
                   since_input=lambda: time.perf_counter() - self._input_at)
        except Exception as exc:  # a failed run is shown, never fatal
            self.post_message(RunFailed(run_id, f"{type(exc).__name__}: {exc}"))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):  # every key reaches the app first (then its bindings, then the focus)
            self._input_at = time.perf_counter()
            self._focus_for(event.key)
        await super().on_event(event)

    def _keys_target(self, tab: str) -> Widget | None:
        """The widget of a tab that answers its keys: arrows move its cursor or scroll it; e and m are its views'."""
        if tab == "timeseries":
            return self.timeseries
        if tab == "decision":
            return self.decision_view
        ident = {"comparison": "#comparison-table", "scorecard": "#scorecard-table", "causal": "#map-nodes",
                 "customers": "#value-table"}.get(tab)
        found = self.tabs.query(ident) if ident else None
        return found.first() if found else None

    def _focus_for(self, key: str) -> None:
        """With nothing focused, a key that the tab on screen answers (an arrow, e on the causal map) focuses it
        first, so the key reaches it. A tab switch leaves nothing focused on four tabs of six (the focus was in the
        hidden tab), and the arrows did nothing there until Tab was pressed. Focusing the view at the switch instead
        made every switch 40–80 ms slower (a focused table redraws its rows); this pays that once, on the key that
        needs it."""
        tabs = getattr(self, "tabs", None)  # (made in compose)
        if self.focused is not None or tabs is None or not tabs.is_attached or self.screen is not tabs.screen:
            return
        target = self._keys_target(tabs.active)
        if target is None or not target.focusable:
            return
        pane = tabs.get_pane(tabs.active)
        for widget in (target, *target.ancestors):
            if key in widget._bindings.key_to_bindings:
                self.set_focus(target, scroll_visible=False)
                return
            if widget is pane:
                return

    def on_replication_finished(self, message: ReplicationFinished) -> None:
        self._show(message.snapshot, "Running")

    def on_run_finished(self, message: RunFinished) -> None:
        if self._show(message.snapshot, "Done"):
            self.finished_runs.append(message.snapshot)
            if self.causal_map.selected:
                self._explain_node(self.causal_map.selected)
            self.measured.setdefault("full_comparison_s", time.perf_counter() - self.opened_at)
            self.call_after_refresh(self._settle_heap, True)  # the final views drawn: their objects stay
            if self._pin_pending:  # p was pressed while this run streamed
                self._pin_pending = False
                self.action_pin()

    def on_run_cancelled(self, message: RunCancelled) -> None:
        self._show(message.snapshot, "Cancelled")

    def on_run_failed(self, message: RunFailed) -> None:
        if message.run_id == self.run_id:
            self.status.message(f"Run failed: {message.error}")
            self.notify(message.error, title="Run failed", severity="error")

    def _show(self, snap: RunSnapshot, state: str) -> bool:
        """Take a snapshot: the status line at once, the views at most every REFRESH_EVERY seconds.

        Rendering every replication's charts would let messages queue up behind the renderer.
        """
        if snap.run_id != self.run_id or not self.status.is_attached:  # stale, or the app is closing
            return False
        self.measured.setdefault("first_replication_s", time.perf_counter() - self.opened_at)
        self.snapshot = snap
        if self._panels_pending is not None and state != "Running":
            self.call_after_refresh(self._build_panels)
        if state != "Running":
            self._refresh_views()  # first: the line may only tell of a recommendation the comparison shows
        elif self._refresh_timer is None:
            self._refresh_timer = self.set_timer(REFRESH_EVERY, self._refresh_views)
        if state == "Running" and time.perf_counter() - self._status_at < STATUS_EVERY:
            if self._status_timer is None:  # the line catches up with the latest snapshot shortly
                self._status_timer = self.set_timer(STATUS_EVERY, self._show_status)
        else:
            self._show_status(state)
        return True

    def _show_status(self, state: str = "Running") -> None:
        """The status line for the latest snapshot (while a run streams in, at most every STATUS_EVERY seconds: each
        update repaints the screen, and 60 of them in 3 s took a tenth of the UI process's time)."""
        if self._status_timer is not None:
            self._status_timer.stop()
            self._status_timer = None
        snap = self.snapshot
        if snap is None or snap.run_id != self.run_id or not self.status.is_attached:
            return
        self._status_at = time.perf_counter()
        self.status.show(snap, state, self.measured.get("first_recommendation_s")
                         if snap.run_id == self.first_run_id else None)

    def _refresh_views(self) -> None:
        """Bring the tables up to date, and the charts of the view on screen (others catch up when shown)."""
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
            self._refresh_timer = None
        snap = self.snapshot
        if snap is None or self.live is None or not self.status.is_attached:
            return
        a = snap.analysis
        if self.highlight is None and a is not None and not a.comparison.empty:
            self.highlight = str(a.comparison["strategy"].iloc[0])
        active = self.tabs.active
        if a is not None and self._rendered.get("comparison") is not a:
            self.comparison.show(snap)
            self._rendered["comparison"] = a
            if self.comparison.recommendation is not None and snap.run_id == self.first_run_id:
                if "first_recommendation_s" not in self.measured:  # the analysis's modules are imported by now
                    self.measured["first_recommendation_s"] = time.perf_counter() - self.opened_at
                    self.call_after_refresh(self._settle_heap)
        if active == "scorecard" and a is not None and self._rendered.get("scorecard") is not a:
            self._rendered["scorecard"] = a
            if a.scorecard.empty and not a.timeseries.empty:  # not computed while it was off screen
                self._fill_scorecard(snap)
            else:
                self.scorecard.show(snap)  # a wide table rebuilt from scratch: only when on screen
        # the charts redraw only when their data does (at most once a second): plotext drawing is slow
        if active == "timeseries" and self._rendered.get("timeseries") is not snap.partial_timeseries:
            self.timeseries.highlighted = self.highlight
            self.timeseries.show(snap, self.live.strategies)
            self._rendered["timeseries"] = snap.partial_timeseries
        elif active != "timeseries" and not snap.partial_timeseries.empty and (
                self._rendered.get("timeseries") is not snap.partial_timeseries):
            self.timeseries.hold()  # drawn when shown: the old charts are not built again at a new size meanwhile
        if active == "customers" and a is not None and self._rendered.get("customers") is not a.customers:
            self.customer_view.show(snap)
            self._rendered["customers"] = a.customers
        if active == "decision" and a is not None and a.recommendation is not None:
            self.decision_view.show_run(a.recommendation.headline, a.recommendation.reasons, a.replications)

    @work(thread=True, exclusive=True, group="scorecard")
    def _fill_scorecard(self, snap: RunSnapshot) -> None:
        """The scorecard of a snapshot taken while it was off screen, computed now that it is shown."""
        from dataclasses import replace

        from simulator.analysis.scorecard import scorecard_frame

        a = snap.analysis
        if a is None:
            return
        card = scorecard_frame(a.timeseries, a.model.scenario, a.strategies)
        self.call_from_thread(self.scorecard.show, replace(snap, analysis=replace(a, scorecard=card)))

    # ---- levers -----------------------------------------------------------------------------------------
    def on_lever_edited(self, message: LeverEdited) -> None:
        if self.loaded is None:
            return
        before = dict(self.changes)
        if message.value == message.original:
            self.changes.pop(message.path, None)
        else:
            self.changes[message.path] = message.value
        if self.changes == before:  # e.g. the inputs announcing their first value: nothing to re-run
            return
        if self._rerun_timer is not None:
            self._rerun_timer.stop()
        self._rerun_timer = self.set_timer(self.debounce, lambda: self.apply_levers(message.path))

    def apply_levers(self, path: str | None = None, run: bool | None = None) -> bool:
        """Validate the edited scenario as a whole; run it when valid (and auto-run is on, or asked)."""
        if self.loaded is None:
            return False
        try:
            scenario = load_data(apply(self.loaded.data, self.changes), str(self.loaded.path))
            model = compile_scenario(scenario)
        except ScenarioError as exc:
            if path:
                self.lever_panel.mark(path, exc.problems[0].message)
            return False
        except UsageError as exc:
            if path:
                self.lever_panel.mark(path, str(exc))
            return False
        self.model = model
        edited = f" · {len(self.changes)} edit{'s' if len(self.changes) != 1 else ''}" if self.changes else ""
        self.sub_title = f"{scenario.metadata.name} · {shown_path(self.loaded.path)}{edited}"
        if run if run is not None else self.auto_run:
            self.start_run()
        return True

    # ---- actions ----------------------------------------------------------------------------------------
    def action_open(self) -> None:
        def opened(path: str | None) -> None:
            if path:
                self.open_scenario(path)

        self.push_screen(ScenarioBrowser(self.folders), opened)

    def action_rerun(self) -> None:
        if self._rerun_timer is not None:
            self._rerun_timer.stop()
        if self.changes:
            self.apply_levers(run=True)
        else:
            self.start_run()

    def action_cancel(self) -> None:
        if self.tabs.active == "decision" and self.deciding:
            self.stop_decision()
            self.status.message("Cancelling the decision…")
            return
        if self.live is not None and not self.live.cancelled:
            self.live.cancel()
            self.status.message("Cancelling…")

    def action_toggle_auto(self) -> None:
        self.auto_run = not self.auto_run
        self.notify(f"Automatic re-run {'on' if self.auto_run else 'off: press r to run'}")

    def action_toggle_levers(self) -> None:
        panel = self.lever_panel
        panel.display = not panel.display

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab

    def action_highlight(self) -> None:
        if self.live is None:
            return
        names = [s for s in self.live.strategies if s != "baseline"]
        if names:
            i = names.index(self.highlight) + 1 if self.highlight in names else 0
            self.highlight = names[i % len(names)]
            if self.snapshot is not None:
                self._rendered.pop("timeseries", None)
                self._refresh_views()
                if self.causal_map.selected:
                    self._explain_node(self.causal_map.selected)
            self.notify(f"Bands: baseline and {self.highlight}")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_calibrate(self) -> None:
        """Calibration to history: its own screen over the tabs (runs on the pool's forkserver, else in-process)."""
        if self.loaded is None:
            self.notify("Calibration needs a scenario file: open one (o)", severity="warning")
            return
        from simulator.experiment import default_workers
        from tui.screens.calibration import CalibrationScreen

        pool = self.pool is not None and not self.pool.failed
        workers = self.worker_count or default_workers(10**9) if pool else 1
        self.push_screen(CalibrationScreen(self.loaded, workers=workers))

    def action_portfolio(self) -> None:
        """The customer portfolio of a transaction export, in the open scenario's currency (its own screen)."""
        from tui.screens.portfolio import PortfolioScreen

        self.push_screen(PortfolioScreen(self.loaded.scenario.metadata.currency if self.loaded else None))

    def action_pin(self) -> None:
        """Pin the results on screen (p again: unpin); later runs show before → after against them."""
        if self.pinned is not None or self._pin_pending:
            self._pin_pending = False
            self.pin_results(None)
            self.notify("Unpinned")
            return
        snap = self.snapshot
        a = snap.analysis if snap is not None else None
        if snap is not None and snap.done < snap.total and self.live is not None and not self.live.cancelled:
            # a partial run's replications are not the ones the next run pairs with: pin the whole run
            self._pin_pending = True
            self.notify("Pins these results when the run finishes (p: never mind)")
            return
        if snap is None or a is None or a.comparison.empty:
            self.notify("Nothing to pin yet: wait for the first results", severity="warning")
            return
        if a.scorecard.empty:  # not computed while the scorecard was off screen (~0.1 s)
            from dataclasses import replace

            from simulator.analysis.scorecard import scorecard_frame

            a = replace(a, scorecard=scorecard_frame(a.timeseries, a.model.scenario, a.strategies))
        edits = f"{len(self.changes)} lever edit{'s' if len(self.changes) != 1 else ''}" if self.changes else "no edits"
        partial = "" if snap.complete >= snap.replications else f", {snap.complete}/{snap.replications} replications"
        label = f"run {snap.run_id} ({edits}{partial})"
        self.pin_results(a, label)
        self.notify(f"Pinned {label}: edit a lever, and the tables show before → after (p: unpin)")

    def pin_results(self, analysis, label: str = "") -> None:
        self.pinned = analysis
        self.comparison.pin(analysis, label)
        self.scorecard.pin(analysis)
        for view in ("comparison", "scorecard"):
            self._rendered.pop(view, None)
        self._refresh_views()

    def action_save(self) -> None:
        if self.loaded is None:
            return
        if not self.changes:
            self.notify("Nothing to save: no lever has been changed", severity="warning")
            return
        base = self.loaded.path
        suggestion = str(base.with_name(f"{base.stem}_edited.yaml"))
        self.push_screen(SaveScreen(suggestion, len(self.changes)), self._save_to)

    def _save_to(self, target: str | None) -> None:
        if not target or self.loaded is None:
            return
        try:
            saved = save_override(self.loaded.path, target, self.loaded.data, self.changes)
        except (ScenarioError, UsageError, OSError) as exc:
            first = exc.problems[0] if isinstance(exc, ScenarioError) else exc
            self.notify(str(first), title="Not saved", severity="error")
            return
        self.notify(f"Saved {saved} (extends {self.loaded.path.name})", title="Saved")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)  # includes Quit, Keys, Theme, Screenshot
        for name, title, help_text in COMMANDS:
            yield SystemCommand(title, help_text, getattr(self, f"action_{name}"))
        for i, (tab, label) in enumerate(TABS, start=1):
            yield SystemCommand(f"Show {label[2:]}", f"Key {i}", lambda t=tab: self.action_show_tab(t))

    # ---- deciding (the Decision tab) ------------------------------------------------------------------------
    def action_decide(self) -> None:
        """Show the Decision tab and decide for the open scenario (with its lever edits), unless one is running."""
        self.tabs.active = "decision"
        if self.loaded is None:
            self.notify("A decision needs a scenario file: open one (o)", severity="warning")
            return
        if not self.loaded.scenario.uncertainty.assumptions:
            self.notify("No uncertain assumptions in this scenario: the Decision tab says how to add ranges",
                        severity="warning")
            return
        if self.deciding:
            self.notify("A decision is running: c on this tab cancels it")
            return
        loaded = self.loaded
        if self.changes:
            from dataclasses import replace

            data = apply(loaded.data, self.changes)
            try:
                loaded = replace(loaded, scenario=load_data(data, str(loaded.path)), data=data)
            except (ScenarioError, UsageError) as exc:
                first = exc.problems[0].message if isinstance(exc, ScenarioError) else str(exc)
                self.notify(f"Fix the lever edits first: {first}", title="No decision", severity="error")
                return
        cost = decision_cost(loaded, self.decide_draws)
        self.decision_id += 1
        self.deciding = True
        events = (threading.Event(), threading.Event())
        self._decision_events[self.decision_id] = events
        self.decision_view.show(DecisionSnapshot(self.decision_id, cost.draws, 0, cost.runs, 0.0, None), "starting")
        from simulator.experiment import default_workers

        pool = self.pool is not None and not self.pool.failed  # else no forkserver: the decision runs in-process
        self._decide(loaded, self.decision_id, self.worker_count or default_workers(cost.runs) if pool else 1, *events)

    def stop_decision(self, stale: bool = False) -> None:
        """Stop the running decision; `stale`: its last messages are no longer shown (another scenario opened)."""
        for stop, _ in list(self._decision_events.values()):  # list: a finishing worker removes its entry
            stop.set()
        if stale:
            self.decision_id += 1
            self.deciding = False

    @work(thread=True, group="decide")
    def _decide(self, loaded: LoadedScenario, decision_id: int, workers: int, stop: threading.Event,
                closed: threading.Event) -> None:
        kinds = {"started": DecisionStarted, "refined": DecisionRefined, "finished": DecisionFinished,
                 "cancelled": DecisionCancelled}
        try:
            decide(loaded, decision_id, workers, lambda kind, snap: self.post_message(kinds[kind](snap)), stop.is_set,
                   self.decide_draws)
        except Exception as exc:  # a failed decision is shown, never fatal
            self.post_message(DecisionFailed(decision_id, f"{type(exc).__name__}: {exc}"))
        finally:
            closed.set()
            self._decision_events.pop(decision_id, None)

    def _decision_message(self, snap: DecisionSnapshot, state: str) -> bool:
        if snap.decision_id != self.decision_id or not self.status.is_attached:  # stale, or the app is closing
            return False
        if state in ("done", "cancelled"):
            self.deciding = False
        self.decision_view.show(snap, state)
        return True

    def on_decision_started(self, message: DecisionStarted) -> None:
        self._decision_message(message.snapshot, "running")

    def on_decision_refined(self, message: DecisionRefined) -> None:
        self._decision_message(message.snapshot, "running")

    def on_decision_finished(self, message: DecisionFinished) -> None:
        if self._decision_message(message.snapshot, "done"):
            self.decisions.append(message.snapshot)

    def on_decision_cancelled(self, message: DecisionCancelled) -> None:
        if self._decision_message(message.snapshot, "cancelled"):
            self.status.message("Decision cancelled")

    def on_decision_failed(self, message: DecisionFailed) -> None:
        snap = DecisionSnapshot(message.decision_id, 0, 0, 0, 0.0, None, error=message.error)
        if self._decision_message(snap, "failed"):
            self.deciding = False
            self.notify(message.error, title="Decision failed", severity="error")

    # ---- explain ---------------------------------------------------------------------------------------
    def on_node_selected(self, message: NodeSelected) -> None:
        self._explain_node(message.node)

    @work(thread=True, exclusive=True, group="explain")
    def _explain_node(self, node: str) -> None:
        """Decompose the selected node's change under the highlighted strategy along its causal paths."""
        from simulator.analysis.explain import explain_timeseries

        snap, strategy, model = self.snapshot, self.highlight, self.model
        if snap is None or snap.analysis is None or not strategy or model is None:
            return
        if node not in snap.analysis.timeseries.columns:
            return
        try:
            expl = explain_timeseries(snap.analysis.model, snap.analysis.timeseries, node, strategy)
        except (UsageError, ValueError, KeyError) as exc:
            text = Text(f"\n(no explanation for {node}: {exc})", style="dim")
        else:
            text = explanation_text(expl, node, strategy, model=model)
        self.call_from_thread(self.causal_map.show_explanation, node, text)

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        if self.tabs.active == "causal" and self._panels_pending is not None:  # asked for: drawn now, not later
            self._show_causal_map(self._panels_pending[1])
        self._refresh_views()
