"""Causal map: every node by perspective, and for the selected one its causes, effects and loops."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from simulator import CompiledModel
from simulator.graph.render import PERSPECTIVE_TITLES, kpi_perspectives

KIND_MARK = {"lever": "»", "stock": "■", "auxiliary": "○", "measure": "◆", "engine": "⚙"}


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
    text = Text()
    text.append(f"{node}\n", style="bold")
    text.append(f"{kind}" + (f" · {spec.unit}" if spec is not None and spec.unit else "") + "\n", style="dim")
    if spec is not None and spec.description:
        text.append(spec.description + "\n")
    text.append("\nCauses\n", style="bold underline")
    for src, _, data in g.in_edges(node, data=True):
        text.append(f"  ← {src}  ", style="")
        text.append(link_text(data) + "\n", style="green" if data["sign"] > 0 else "red")
    if not g.in_degree(node):
        text.append("  (none: set by initiatives or the engine)\n", style="dim")
    text.append("\nEffects\n", style="bold underline")
    for _, dst, data in g.out_edges(node, data=True):
        text.append(f"  → {dst}  ")
        text.append(link_text(data) + "\n", style="green" if data["sign"] > 0 else "red")
    if not g.out_degree(node):
        text.append("  (none)\n", style="dim")
    loops = [loop for loop in model.loops if node in loop.nodes]
    text.append(f"\nFeedback loops through it ({len(loops)})\n", style="bold underline")
    for loop in sorted(loops, key=lambda lp: len(lp.nodes))[:12]:
        mark, style = ("R", "bold magenta") if loop.polarity == "reinforcing" else ("B", "bold cyan") \
            if loop.polarity == "balancing" else ("?", "dim")
        text.append(f"  {mark} ", style=style)
        text.append(loop.label + "\n")
    if len(loops) > 12:
        text.append(f"  … and {len(loops) - 12} more (spc graph --loops)\n", style="dim")
    return text


class CausalMapView(Horizontal):
    model: CompiledModel | None = None
    selected: str | None = None

    def compose(self) -> ComposeResult:
        yield OptionList(id="map-nodes")
        with VerticalScroll(id="map-detail-scroll"):
            yield Static("Select a node", id="map-detail")
            yield Static("", id="map-explain")

    def show_model(self, model: CompiledModel) -> None:
        self.model = model
        options = self.query_one(OptionList)
        options.clear_options()
        reinforcing = sum(loop.polarity == "reinforcing" for loop in model.loops)
        options.add_option(Option(Text(f"{len(model.loops)} loops: {reinforcing} R, "
                                       f"{len(model.loops) - reinforcing} B", style="dim"), disabled=True))
        for title, nodes in grouped_nodes(model):
            options.add_option(Option(Text(title, style="bold"), disabled=True))
            for n in nodes:
                options.add_option(Option(f" {KIND_MARK.get(model.graph.nodes[n]['kind'], ' ')} {n}", id=n))
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


@dataclass
class NodeSelected(Message):
    node: str


def explanation_text(expl, node: str, strategy: str, top: int = 6) -> Text:
    """Why a node moved under a strategy: the causal paths carrying its change and when the shock arrived."""
    text = Text()
    text.append(f"\nWhy {node} moved under {strategy} (vs baseline, mean over the horizon)\n", style="bold underline")
    text.append(f"  total change {expl.total:+,.3g}\n")
    for row in expl.paths.head(top).to_dict("records"):
        text.append(f"  {row['contribution']:+,.3g} ", style="green" if row["contribution"] > 0 else "red")
        text.append(f"({row['share']:.0%}) {row['path']}\n")
    if len(expl.paths) > top:
        text.append(f"  … {len(expl.paths) - top} more paths (spc explain)\n", style="dim")
    if abs(expl.residual) > 1e-12:
        text.append(f"  of which residual {expl.residual:+,.3g}\n", style="dim")
    text.append("\nHow the shock travelled\n", style="bold underline")
    for row in expl.trace.head(8).to_dict("records"):
        text.append(f"  month {int(row['month']):>2}  {row['node']}  ", style="")
        text.append(f"{row['via']}\n", style="dim")
    return text
