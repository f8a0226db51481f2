"""The causal map as Mermaid or Graphviz DOT text; nodes carrying a KPI are grouped by perspective."""

from __future__ import annotations

from simulator.graph.compiler import CompiledModel

PERSPECTIVE_TITLES = {
    "financial": "Financial",
    "customer": "Customer",
    "internal_process": "Internal process",
    "learning_growth": "Learning & growth",
}


def kpi_perspectives(model: CompiledModel) -> dict[str, str]:
    """Node name -> the perspective of the first KPI that measures it."""
    out: dict[str, str] = {}
    for persp in model.scenario.scorecard.perspectives:
        for obj in persp.objectives:
            for kpi in obj.kpis:
                if kpi.metric in model.graph and kpi.metric not in out:
                    out[kpi.metric] = persp.name
    return out


def _edge_label(data: dict) -> str:
    sign = "+" if data["sign"] > 0 else "-" if data["sign"] < 0 else "?"
    if data["engine"]:
        return f"{sign} engine"
    label = f"{sign}{abs(data['effect']):g}" if data["form"] == "linear" else f"{sign} {data['form']}"
    if data["delay_days"]:
        label += f", {data['delay_days']:g}d delay"
    return label


_MERMAID_RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "click", "linkStyle", "classDef"}


def _mid(name: str) -> str:
    """A Mermaid node id: reserved words get a prefix (the label keeps the real name)."""
    return f"n_{name}" if name in _MERMAID_RESERVED or name.startswith("n_") else name


def to_mermaid(model: CompiledModel) -> str:
    g = model.graph
    groups = kpi_perspectives(model)
    lines = ["flowchart LR"]
    shapes = {"lever": ('[/', '/]'), "stock": ('[(', ')]'), "measure": ('{{', '}}'), "engine": ('([', '])')}
    def node_text(n: str) -> str:
        left, right = shapes.get(g.nodes[n]["kind"], ("[", "]"))
        return f'    {_mid(n)}{left}"{n}"{right}'
    for persp, title in PERSPECTIVE_TITLES.items():
        members = [n for n in g if groups.get(n) == persp]
        if members:
            lines.append(f'  subgraph {persp}["{title}"]')
            lines.extend(node_text(n) for n in members)
            lines.append("  end")
    lines.extend(node_text(n) for n in g if n not in groups)
    for a, b, data in g.edges(data=True):
        arrow = "-.->" if data["engine"] or data["delay_days"] else "-->"
        lines.append(f'    {_mid(a)} {arrow}|"{_edge_label(data)}"| {_mid(b)}')
    return "\n".join(lines)


def to_dot(model: CompiledModel) -> str:
    g = model.graph
    groups = kpi_perspectives(model)
    shapes = {"lever": "parallelogram", "stock": "box3d", "measure": "hexagon", "engine": "ellipse", "auxiliary": "box"}
    graph_name = model.scenario.metadata.name.replace("\\", "\\\\").replace('"', '\\"')
    lines = [f'digraph "{graph_name}" {{', "  rankdir=LR;", "  node [fontname=Helvetica];"]
    for persp, title in PERSPECTIVE_TITLES.items():
        members = [n for n in g if groups.get(n) == persp]
        if members:
            lines.append(f'  subgraph cluster_{persp} {{ label="{title}";')
            lines.extend(f'    "{n}" [shape={shapes[g.nodes[n]["kind"]]}];' for n in members)
            lines.append("  }")
    lines.extend(f'  "{n}" [shape={shapes[g.nodes[n]["kind"]]}];' for n in g if n not in groups)
    for a, b, data in g.edges(data=True):
        style = "dashed" if data["engine"] or data["delay_days"] else "solid"
        color = "darkgreen" if data["sign"] > 0 else "firebrick" if data["sign"] < 0 else "gray"
        lines.append(f'  "{a}" -> "{b}" [label="{_edge_label(data)}", style={style}, color={color}];')
    lines.append("}")
    return "\n".join(lines)
