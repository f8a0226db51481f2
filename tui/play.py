"""`spc play FILE`: the flight simulator. Each quarter a student sets levers and picks initiatives within a
budget, commits the turn, and sees the scorecard of the game so far against baseline; at the end, a debrief
against the best strategy found. Decisions are saved as YAML that `spc play FILE --replay` reproduces.

The game logic is `simulator.play`; this module only collects the choices and shows the results.
"""

from __future__ import annotations

from pathlib import Path

from rich.segment import Segment
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.strip import Strip
from textual.widgets import DataTable, Footer, Header, Input, Label, SelectionList, Static

from simulator import LoadedScenario, ScenarioError, UsageError, load
from simulator.analysis.comparison import p_better_text
from simulator.analysis.units import format_value, humanise, names_of
from simulator.play import (
    Debrief,
    Decisions,
    PlayResult,
    Turn,
    carried_over,
    check,
    debrief,
    default_lever_costs,
    lever_settings,
    new_decisions,
    replay,
    write_decisions,
)
from tui.format import money, signed_money, status_text
from tui.widgets.levers import shown

DEFAULT_BUDGET = 60_000.0
TICKED, UNTICKED = "[x]", "[ ]"


class TickList(SelectionList[str]):
    """A selection list whose ticks differ in glyph, not only in colour: '[x]' ticked, '[ ]' not (Textual's
    default draws the same ▐X▌ for both, which a colour-blind player or a monochrome terminal cannot tell apart)."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        segments = list(line)
        if len(segments) < 4:
            return line
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except Exception:  # noqa: BLE001 - past the last option: the line as drawn
            return line
        mark = TICKED if selection.value in self._selected else UNTICKED
        button = segments[1].style  # the button's style and its click metadata
        return Strip([Segment(mark, button), *segments[3:]], line.cell_length)


class PlayApp(App[None]):
    CSS_PATH = ["app.tcss", "play.tcss"]
    TITLE = "spc play"
    BINDINGS = [
        # ctrl keys: the lever inputs take plain letters
        Binding("ctrl+n", "commit", "Commit turn", priority=True),
        Binding("ctrl+d", "debrief", "Finish & debrief", priority=True),
        Binding("ctrl+s", "save", "Save decisions", priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, path: str | Path, *, budget: float = DEFAULT_BUDGET, turn_months: int = 3,
                 replications: int = 3, seed: int | None = None, save_to: str | Path | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.budget, self.turn_months, self.replications, self.seed = budget, turn_months, replications, seed
        self.save_to = Path(save_to) if save_to else self.path.with_name(f"{self.path.stem}_decisions.yaml")
        self.loaded: LoadedScenario | None = None
        self.decisions: Decisions | None = None
        self.result: PlayResult | None = None
        self.brief: Debrief | None = None
        self.busy = False
        self.lever_inputs: dict[str, Input] = {}
        self.currency: str | None = None
        self.names: dict[str, str] = {}  # initiative and lever names -> their labels

    @property
    def turns_total(self) -> int:
        horizon = self.loaded.scenario.metadata.horizon_months if self.loaded else 0
        return horizon // self.turn_months

    def compose(self) -> ComposeResult:
        self.turn_title = Static("", classes="panel-title")
        self.turn_cost = Static("")
        self.lever_box = VerticalScroll(id="play-levers")
        self.initiatives = TickList(id="play-initiatives")
        self.carried = Static("", id="play-carried")
        self.result_title = Static("Commit a turn to see the scorecard", classes="panel-title")
        self.scorecard = DataTable(id="play-scorecard", zebra_stripes=True, cursor_type="row")
        self.history = DataTable(id="play-history", zebra_stripes=True, cursor_type="row")
        yield Header(icon="◆")
        with Horizontal():
            with Vertical(id="play-turn"):
                yield self.turn_title
                yield self.turn_cost
                yield Label("Levers held this turn (price per unit above reference, per month)",
                            classes="lever-group")
                yield self.lever_box
                yield Label(Text(f"Initiatives running this turn ({TICKED} runs, {UNTICKED} does not)"),
                            classes="lever-group")
                yield self.initiatives
                yield self.carried
            with Vertical(id="play-results"):
                yield self.result_title
                yield self.scorecard
                yield self.history
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.loaded = load(self.path)
        except ScenarioError as exc:
            self.turn_title.update(Text(f"Cannot open {self.path}: {exc.problems[0]}", style="bold red"))
            return
        self.decisions = new_decisions(self.loaded, self.budget, self.turn_months, self.seed, self.replications,
                                       default_lever_costs(self.loaded.scenario))
        self.history.add_columns("turn", "months", "committed", "levers moved", "initiatives")
        sc = self.loaded.scenario
        self.currency = sc.metadata.currency
        self.names = names_of(sc.initiatives) | names_of(sc.network.nodes)
        self.sub_title = f"{sc.metadata.name} · budget {money(self.budget, self.currency)} a turn"
        rows = []
        for node in sc.network.nodes:
            if node.kind == "lever":
                price = self.decisions.lever_costs.get(node.name)
                note = f"{money(price, self.currency)}" if price else "free"
                box = self.lever_inputs[node.name] = Input(shown(node.reference), id=f"play-{node.name}",
                                                           classes="lever-input", compact=True)
                rows.append(Horizontal(Label(f"{self.names[node.name]} ({note})", classes="lever-label"), box,
                                       classes="lever-row"))
        self.lever_box.mount_all(rows)
        for ini in sc.initiatives:
            cost = f"{money(ini.one_off_cost, self.currency)} once + {money(ini.monthly_cost, self.currency)}/month"
            self.initiatives.add_option((f"{self.names[ini.name]} ({cost})", ini.name))
        self._show_turn()

    # ---- the turn being set ---------------------------------------------------------------------------
    def _draft(self) -> Turn:
        assert self.loaded is not None
        levers = {}
        for name, box in self.lever_inputs.items():
            text = box.value.strip()
            try:
                levers[name] = float(text)
            except ValueError:
                raise UsageError(f"{name}: '{text}' is not a number") from None
        return Turn(levers=levers, initiatives=list(self.initiatives.selected))

    def _check_draft(self) -> Decisions:
        """The game with the draft turn appended, checked against ranges and the budget (UsageError if not)."""
        assert self.decisions is not None and self.loaded is not None
        game = self.decisions.model_copy(update={"turns": [*self.decisions.turns, self._draft()]})
        check(self.loaded.scenario, game, self.loaded.scenario.metadata.horizon_months)
        return game

    def _show_turn(self) -> None:
        if self.decisions is None:
            return
        k = len(self.decisions.turns) + 1
        m = self.turn_months
        if k > self.turns_total:
            self.turn_title.update(f"All {self.turns_total} turns played · press ctrl+d for the debrief")
            return
        self.turn_title.update(f"Turn {k} of {self.turns_total} · months {(k - 1) * m + 1}–{k * m}")
        self._update_cost()
        self._show_carried()

    def _show_carried(self) -> None:
        """Which ticks carry over from the last turn (they run on, with no new one-off cost, until unticked)."""
        if self.decisions is None or not self.decisions.turns:
            self.carried.update("")
            return
        k = len(self.decisions.turns)
        running = self.decisions.turns[-1].initiatives
        if not running:
            self.carried.update(Text(f"Nothing running in turn {k}: tick an initiative to start it.", style="dim"))
            return
        ticked = set(self.initiatives.selected)
        text = Text(f"From turn {k}: ", style="bold")
        going = [self.names.get(n, humanise(n)) for n in running if n in ticked]
        stopping = [self.names.get(n, humanise(n)) for n in running if n not in ticked]
        if going:
            text.append(f"carried over {TICKED} " + ", ".join(going) + " (untick to stop)", style="bold")
        if stopping:
            text.append(("; " if going else "") + f"stops {UNTICKED} " + ", ".join(stopping), style="yellow")
        self.carried.update(text)

    def _update_cost(self) -> None:
        try:
            game = self._check_draft()
            assert self.loaded is not None
            cost = check(self.loaded.scenario, game)[-1]
            cur = self.currency
            self.turn_cost.update(Text(f"This turn commits {money(cost.total, cur)} of {money(self.budget, cur)} "
                                       f"(levers {money(cost.levers, cur)}, initiatives {money(cost.initiatives, cur)})",
                                       style="green"))
        except UsageError as exc:
            self.turn_cost.update(Text(str(exc), style="bold red"))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._update_cost()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_commit()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        self._update_cost()
        self._show_carried()

    # ---- committing and scoring ------------------------------------------------------------------------
    def action_commit(self) -> None:
        if self.busy or self.decisions is None or len(self.decisions.turns) >= self.turns_total:
            return
        try:
            game = self._check_draft()
        except UsageError as exc:
            self.notify(str(exc), title="Turn not committed", severity="error")
            return
        self.decisions = game
        self.busy = True
        self.result_title.update(f"Scoring turns 1–{len(game.turns)}…")
        self._score(game)

    @work(thread=True, exclusive=True, group="score")
    def _score(self, game: Decisions) -> None:
        assert self.loaded is not None
        try:
            result = replay(self.loaded, game, workers=1)
        except (UsageError, ScenarioError) as exc:
            self.call_from_thread(self._failed, str(exc))
            return
        self.call_from_thread(self._scored, result)

    def _failed(self, error: str) -> None:
        self.busy = False
        self.notify(error, title="Could not score", severity="error")

    def _scored(self, result: PlayResult) -> None:
        self.busy = False
        self.result = result
        self._render_scorecard(result)
        self._render_history()
        self._show_turn()

    def _render_scorecard(self, result: PlayResult) -> None:
        cmp = result.comparison
        line = ""
        if not cmp.empty:
            r = cmp.iloc[0]
            cur = self.currency
            # the Δ P(better) counts: firm value once the customers left are valued, else NPV (never a "better"
            # in 10/10 beside a negative Δ of the other measure)
            firm = r.get("decision_measure", "npv") == "firm_value"
            mean, low, high = (r["delta_firm_value"], r["firm_ci_low"], r["firm_ci_high"]) if firm else \
                (r["delta_npv"], r["ci_low"], r["ci_high"])
            line = (f" · Δ {'firm value' if firm else 'NPV'} vs baseline {signed_money(mean, cur)} "
                    f"[{signed_money(low, cur)}, {signed_money(high, cur)}], better in {p_better_text(r)}")
        self.result_title.update(f"After {result.months} months{line} · flows judged on targets pro-rated to "
                                 f"{result.months} months")
        self._kpi_table(result)

    def _kpi_table(self, result: PlayResult) -> None:
        """KPIs with labels and units; a flow's target pro-rated to the months played ('≥ €62.5k of €750k')."""
        from simulator.report import kpi_labels

        assert self.loaded is not None
        labels = kpi_labels(self.loaded.scenario)
        targets = result.targets.set_index("kpi") if result.targets is not None and len(result.targets) else None
        table = self.scorecard
        table.clear(columns=True)
        table.add_columns("KPI", "target (pro-rated)", "baseline", "your game")
        card = result.scorecard
        for kpi in dict.fromkeys(card["kpi"]):
            sub = card[card["kpi"] == kpi].set_index("strategy")
            first = sub.iloc[0]
            name, unit = labels.get(kpi, (humanise(kpi), ""))

            def fmt(x, metric=first["metric"], unit=unit):
                return format_value(x, metric, self.currency, unit)

            target = f"{'≥' if first['direction'] == 'higher' else '≤'} {fmt(first['target'])}"
            if targets is not None and kpi in targets.index and targets.at[kpi, "factor"] != 1.0:
                target += f" of {fmt(targets.at[kpi, 'full_target'])}"
            cells = [status_text(sub.at[s, "status"], fmt(sub.at[s, "value"])) if s in sub.index else "-"
                     for s in ("baseline", "played")]
            table.add_row(name, target, *cells)

    def _render_history(self) -> None:
        assert self.decisions is not None and self.loaded is not None
        sc = self.loaded.scenario
        refs = {n.name: n.reference for n in sc.network.nodes if n.kind == "lever"}
        costs = check(sc, self.decisions)
        self.history.clear()
        for i, (held, cost) in enumerate(zip(lever_settings(sc, self.decisions), costs, strict=True), start=1):
            moved = ", ".join(f"{self.names.get(k, k)} = {v:g}" for k, v in held.items() if v != refs[k]) or "-"
            m = self.turn_months
            continued, started, _ = carried_over(self.decisions, i)
            running = [f"{self.names.get(n, n)} (carried over)" for n in continued] + [
                f"{self.names.get(n, n)} (new)" for n in started]
            self.history.add_row(str(i), f"{(i - 1) * m + 1}–{i * m}", money(cost.total, self.currency), moved,
                                 ", ".join(running) or "-")

    # ---- the end ----------------------------------------------------------------------------------------
    def action_debrief(self) -> None:
        if self.busy or self.result is None:
            self.notify("Commit at least one turn first", severity="warning")
            return
        self.busy = True
        self.result_title.update("Debrief: playing the scenario's strategies and simple lever policies…")
        self._debrief(self.result)

    @work(thread=True, exclusive=True, group="score")
    def _debrief(self, result: PlayResult) -> None:
        assert self.loaded is not None
        brief = debrief(self.loaded, result, workers=1)
        self.call_from_thread(self._briefed, brief)

    def _briefed(self, brief: Debrief) -> None:
        self.busy = False
        self.brief = brief
        cur = self.currency
        measure = "firm value" if brief.ranked_on == "firm_value" else "NPV"
        title = Text(f"Debrief after {brief.months} months, ranked on {measure}: your game ranks {brief.rank} of "
                     f"{int(brief.candidates['within_budget'].sum())} within budget · {measure} "
                     f"{money(brief.played_value, cur)} · best: {brief.best} {money(brief.best_value, cur)}")
        if brief.warning:
            title.append(f"\nCaution: {brief.warning}", style="bold yellow")
        self.result_title.update(title)
        table = self.scorecard
        table.clear(columns=True)
        table.add_columns("candidate", "kind", "firm value", "Δ firm value", "NPV", "Δ NPV", "within budget")
        for r in brief.candidates.to_dict("records"):
            style = "bold" if r["candidate"] == "your game" else ""
            table.add_row(Text(r["candidate"], style=style), r["kind"], money(r["firm_value"], cur),
                          signed_money(r["delta_firm_value"], cur), money(r["npv"], cur),
                          signed_money(r["delta_npv"], cur), "yes" if r["within_budget"] else "no")
        self.action_save()

    def action_save(self) -> None:
        if self.decisions is None or not self.decisions.turns:
            self.notify("No turn committed yet", severity="warning")
            return
        write_decisions(self.decisions, self.save_to)
        self.notify(f"Saved {self.save_to} (replay: spc play {self.path} --replay {self.save_to})", title="Saved")


def tui_play_entry(path: str, **options) -> int:
    """What `spc play FILE` calls without --replay."""
    PlayApp(path, **options).run()
    return 0
