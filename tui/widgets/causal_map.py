"""Causal map: every node by perspective, and for the selected one its causes, effects and loops.

Key `e` (with the map focused): the Shapley attribution of ΔNPV (the highlighted strategy against baseline) over
the chain's pathway groups, as `spc explain FILE --strategy S` prints it: computed in a thread worker (it costs
replications x (1 + 2^groups) runs), kept per strategy until the scenario changes, shown as a ranking with each
group's value, 95% interval and share of the total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from simulator import CompiledModel
from simulator.analysis.units import humanise, names_of, strategy_labels
from simulator.calibration.labels import metric_label
from simulator.graph.render import PERSPECTIVE_TITLES, kpi_perspectives
from tui.widgets.cached import SteadyOptionList

KIND_MARK = {"lever": "»", "stock": "■", "auxiliary": "○", "measure": "◆", "engine": "⚙"}


def node_names(model: CompiledModel) -> dict[str, str]:
    """Per node of the causal graph (scenario nodes and engine series): the name people read, its `label` or the
    humanised name ('Employee satisfaction', 'Customers won'). Identifiers stay in the file and on the command line."""
    return {n: metric_label(model.scenario, n) for n in model.graph}


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def relabel(text: str, names: dict[str, str]) -> str:
    """`text` with every node identifier in it replaced by its label (another snake_case name humanised: an engine
    port such as 'handle_minutes'), and '->' by '→'."""
    def name(m: re.Match) -> str:
        word = m.group(0)
        return names.get(word) or (humanise(word) if "_" in word.strip("_") else word)

    return IDENTIFIER.sub(name, str(text).replace("->", "→"))


def loop_text(loop, names: dict[str, str]) -> str:
    """A feedback loop in labels: 'Active customers → Mean wait → … → Active customers'."""
    return " → ".join(names.get(n, n) for n in (*loop.nodes, loop.nodes[0]))


def link_text(data: dict) -> str:
    sign = "+" if data["sign"] > 0 else "−" if data["sign"] < 0 else "?"
    if data["engine"]:
        return f"{sign} via the engine"
    text = f"{sign} {data['form']} {abs(data['effect']):g}" if data["form"] != "table" else f"{sign} table"
    if data["delay_days"]:
        text += f", {data['delay_days']:g} d delay"
    return text


def grouped_nodes(model: CompiledModel) -> list[tuple[str, list[str]]]:
    """(group title, nodes): the scorecard perspectives first, then the rest by kind."""
    groups = kpi_perspectives(model)
    g = model.graph
    out = [(title, [n for n in g if groups.get(n) == key]) for key, title in PERSPECTIVE_TITLES.items()]
    rest = [n for n in g if n not in groups]
    out.append(("Levers", [n for n in rest if g.nodes[n]["kind"] == "lever"]))
    out.append(("Other drivers", [n for n in rest if g.nodes[n]["kind"] != "lever"]))
    return [(title, nodes) for title, nodes in out if nodes]


def node_details(model: CompiledModel, node: str) -> Text:
    g = model.graph
    kind = g.nodes[node]["kind"]
    spec = model.scenario.node(node)
    names = node_names(model)
    text = Text()
    text.append(f"{names[node]}\n", style="bold")
    text.append(f"{kind}" + (f" · {spec.unit}" if spec is not None and spec.unit else "") + "\n", style="dim")
    if spec is not None and spec.description:
        text.append(spec.description + "\n")
    text.append("\nCauses\n", style="bold underline")
    for src, _, data in g.in_edges(node, data=True):
        text.append(f"  ← {names.get(src, src)}  ", style="")
        text.append(link_text(data) + "\n", style="green" if data["sign"] > 0 else "red")
    if not g.in_degree(node):
        text.append("  (none: set by initiatives or the engine)\n", style="dim")
    text.append("\nEffects\n", style="bold underline")
    for _, dst, data in g.out_edges(node, data=True):
        text.append(f"  → {names.get(dst, dst)}  ")
        text.append(link_text(data) + "\n", style="green" if data["sign"] > 0 else "red")
    if not g.out_degree(node):
        text.append("  (none)\n", style="dim")
    loops = [loop for loop in model.loops if node in loop.nodes]
    text.append(f"\nFeedback loops through it ({len(loops)})\n", style="bold underline")
    for loop in sorted(loops, key=lambda lp: len(lp.nodes))[:12]:
        mark, style = ("R", "bold magenta") if loop.polarity == "reinforcing" else ("B", "bold cyan") \
            if loop.polarity == "balancing" else ("?", "dim")
        text.append(f"  {mark} ", style=style)
        text.append(loop_text(loop, names) + "\n")
    if len(loops) > 12:
        text.append(f"  … and {len(loops) - 12} more (spc graph --loops)\n", style="dim")
    return text


class CausalMapView(Horizontal):
    BINDINGS = [Binding("e", "shapley", "Shapley")]
    model: CompiledModel | None = None
    selected: str | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.attributions: dict[str, object] = {}  # strategy -> Attribution of ΔNPV (for the current model)
        self.shapley_running: str | None = None

    def compose(self) -> ComposeResult:
        yield SteadyOptionList(id="map-nodes")
        with VerticalScroll(id="map-detail-scroll"):
            yield Static("Select a node", id="map-detail")
            yield Static(Text("\nShapley attribution of ΔNPV: press e (for the highlighted strategy)", style="dim"),
                         id="map-shapley")
            yield Static("", id="map-explain")

    def show_model(self, model: CompiledModel) -> None:
        if model is not self.model:
            self.attributions = {}
        self.model = model
        options = self.query_one(OptionList)
        options.clear_options()
        reinforcing = sum(loop.polarity == "reinforcing" for loop in model.loops)
        options.add_option(Option(Text(f"{len(model.loops)} loops: {reinforcing} R, "
                                       f"{len(model.loops) - reinforcing} B", style="dim"), disabled=True))
        names = node_names(model)
        for title, nodes in grouped_nodes(model):
            options.add_option(Option(Text(title, style="bold"), disabled=True))
            for n in nodes:  # the label shown, the identifier as the option's id
                options.add_option(Option(f" {KIND_MARK.get(model.graph.nodes[n]['kind'], ' ')} {names[n]}", id=n))
        first = next((i for i in range(options.option_count) if not options.get_option_at_index(i).disabled), None)
        if first is not None:
            options.highlighted = first
            self._detail(options.get_option_at_index(first).id)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._detail(event.option.id)

    def _detail(self, node: str | None) -> None:
        if self.model is not None and node:
            self.selected = node
            self.query_one("#map-detail", Static).update(node_details(self.model, node))
            self.query_one("#map-explain", Static).update("")
            self.post_message(NodeSelected(node))

    def show_explanation(self, node: str, text: Text) -> None:
        if node == self.selected:
            self.query_one("#map-explain", Static).update(text)

    # ---- Shapley ranking (key e) ------------------------------------------------------------------------
    def _strategy(self) -> str | None:
        strategy = getattr(self.app, "highlight", None)
        names = self.model.scenario.strategy_names() if self.model is not None else []
        return strategy if strategy in names and strategy != "baseline" else \
            next((n for n in names if n != "baseline"), None)

    def _currency(self) -> str | None:
        return self.model.scenario.metadata.currency if self.model is not None else None

    def strategy_label(self, strategy: str) -> str:
        return strategy_labels(self.model.scenario).get(strategy, strategy) if self.model is not None else strategy

    def initiative_labels(self) -> dict[str, str]:
        return names_of(self.model.scenario.initiatives) if self.model is not None else {}

    def action_shapley(self) -> None:
        box = self.query_one("#map-shapley", Static)
        strategy = self._strategy()
        if self.model is None or strategy is None:
            box.update(Text("\n(no strategy to attribute: open a scenario with strategies)", style="dim"))
            return
        box.scroll_visible()
        if strategy in self.attributions:
            box.update(shapley_text(self.attributions[strategy], self._currency(), self.strategy_label(strategy), self.initiative_labels()))
            return
        if self.shapley_running:
            return
        self.shapley_running = strategy
        box.update(Text(f"\nShapley attribution of ΔNPV under {self.strategy_label(strategy)}: starting…", style="dim"))
        app = self.app
        self.run_worker(lambda: self._compute(self.model, strategy, getattr(app, "replications", None),
                                              getattr(app, "seed", None), getattr(app, "months", None),
                                              getattr(app, "worker_count", None)),
                        thread=True, group="shapley", exit_on_error=False)

    def _compute(self, model: CompiledModel, strategy: str, replications, seed, months, workers) -> None:
        from simulator.analysis.attribution import attribute

        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self._progress, strategy, done, total)

        try:
            att = attribute(model, strategy, "npv", replications=replications, seed=seed, months=months,
                            workers=workers, progress=progress)
        except Exception as exc:  # shown, not raised: the map stays usable
            self.app.call_from_thread(self._shapley_done, model, strategy, None, str(exc))
        else:
            self.app.call_from_thread(self._shapley_done, model, strategy, att, None)

    def _progress(self, strategy: str, done: int, total: int) -> None:
        if self.shapley_running == strategy:
            self.query_one("#map-shapley", Static).update(
                Text(f"\nShapley attribution of ΔNPV under {self.strategy_label(strategy)}: {done}/{total} runs…", style="dim"))

    def _shapley_done(self, model: CompiledModel, strategy: str, att, error: str | None) -> None:
        self.shapley_running = None
        box = self.query_one("#map-shapley", Static)
        if error is not None:
            box.update(Text(f"\n(no Shapley attribution for {self.strategy_label(strategy)}: {error})", style="dim"))
        elif model is self.model:
            self.attributions[strategy] = att
            box.update(shapley_text(att, self._currency(), self.strategy_label(strategy), self.initiative_labels()))
            box.scroll_visible()


def shapley_text(att, currency: str | None = None, strategy: str | None = None,
                 names: dict[str, str] | None = None) -> Text:
    """A Shapley attribution as a ranking: group, value, 95% CI, share of the total (largest |value| first);
    money with its currency, by magnitude ('+€58.4k'); `strategy` and `names` (initiative labels) name the
    strategy and the groups as people read them."""
    from simulator.analysis.units import money

    names = names or {}
    shown = {g.name: relabel(g.name, names) for g in att.groups}
    width = min(40, max([26, *map(len, shown.values())]))

    def group(name: str) -> str:
        label = shown.get(name) or relabel(name, names)
        return label if len(label) <= width else label[:width - 1] + "…"

    def m(x: float) -> str:
        return money(x, currency, signed=True, compact=True)

    text = Text()
    method = "exact" if att.exact else f"{att.permutations} sampled orders"
    text.append(f"\nWhy NPV moved under {strategy or att.strategy} (Shapley, vs baseline)\n", style="bold underline")
    total, lo, hi = att.total
    text.append(f"  total Δ{att.metric} {m(total)} [{m(lo)}, {m(hi)}]  "
                f"({att.replications} reps, {att.runs} runs, {method})\n")
    text.append(f"  {'group':<{width}} {'value':>10}  {'95% CI':<22} share\n", style="dim")
    for g in sorted(att.groups, key=lambda g: -abs(g.value)):
        share = f"{g.share:>5.0%}" if g.share == g.share else "    –"
        text.append(f"  {group(g.name):<{width}} ")
        text.append(f"{m(g.value):>10}", style="green" if g.low > 0 else "red" if g.high < 0 else "")
        text.append(f"  {f'[{m(g.low)}, {m(g.high)}]':<22} {share}\n")
    out_mean = att.outside[0]
    if abs(out_mean) > 1e-9 * max(1.0, abs(total)):
        text.append(f"  {'outside the groups':<{width}} {m(out_mean):>10}\n", style="dim")
    for a, b, mean, ilo, ihi in att.interactions[:3]:
        if mean:
            text.append(f"  interaction {group(a)} × {group(b)}: {m(mean)} [{m(ilo)}, {m(ihi)}]\n", style="dim")
    return text


@dataclass
class NodeSelected(Message):
    node: str


def explanation_text(expl, node: str, strategy: str, top: int = 6, model: CompiledModel | None = None) -> Text:
    """Why a node moved under a strategy: the causal paths carrying its change and when the shock arrived; with
    the `model`, nodes and the strategy by their labels."""
    names = node_names(model) if model is not None else {}
    strategy = strategy_labels(model.scenario).get(strategy, strategy) if model is not None else strategy
    text = Text()
    text.append(f"\nWhy {names.get(node, node)} moved under {strategy} (vs baseline, mean over the horizon)\n",
                style="bold underline")
    text.append(f"  total change {expl.total:+,.3g}\n")
    for row in expl.paths.head(top).to_dict("records"):
        text.append(f"  {row['contribution']:+,.3g} ", style="green" if row["contribution"] > 0 else "red")
        text.append(f"({row['share']:.0%}) {relabel(row['path'], names)}\n")
    if len(expl.paths) > top:
        text.append(f"  … {len(expl.paths) - top} more paths (spc explain)\n", style="dim")
    if abs(expl.residual) > 1e-12:
        text.append(f"  of which residual {expl.residual:+,.3g}\n", style="dim")
    text.append("\nHow the shock travelled\n", style="bold underline")
    for row in expl.trace.head(8).to_dict("records"):
        text.append(f"  month {int(row['month']):>2}  {names.get(row['node'], row['node'])}  ", style="")
        text.append(f"{relabel(row['via'], names)}\n", style="dim")
    return text
