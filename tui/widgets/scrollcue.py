"""A one-line cue under a wide table: which columns are off screen to the left and right, and how to reach them.

A horizontal scrollbar alone is easy to miss in a terminal (one dim line); at 80 columns the cue names what is
hidden ("→ 3 more: ROI, payback, Δ sat."), so nobody takes the visible columns for the whole table.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable, Static

from tui.widgets.cached import update_static


def _cell_width(value) -> int:
    text = value.plain if isinstance(value, Text) else str(value)
    return max((cell_len(line) for line in text.split("\n")), default=0)


def column_widths(table: DataTable) -> list[int]:
    """Each column's width on screen, padding included, measured from its cells now: the table itself measures
    new rows only when its message queue is idle, too late for a cue drawn right after the rows were added."""
    pad = 2 * table.cell_padding
    widths = []
    for i, column in enumerate(table.ordered_columns):
        if not column.auto_width:
            widths.append(column.width + pad)
            continue
        cells = list(table.get_column_at(i)) if table.row_count else []
        widths.append(max([_cell_width(column.label), *map(_cell_width, cells)]) + pad)
    return widths


def hidden_columns(table: DataTable) -> tuple[list[str], list[str]]:
    """(left, right): labels of the scrollable columns wholly or partly outside the table's viewport."""
    width = table.scrollable_content_region.width
    if width <= 0:
        return [], []
    columns = table.ordered_columns
    widths = column_widths(table)
    fixed = min(table.fixed_columns, len(columns))
    fixed_width = sum(widths[:fixed])
    x = fixed_width
    first, last = table.scroll_x + fixed_width, table.scroll_x + width  # the viewport's scrollable part
    left: list[str] = []
    right: list[str] = []
    for column, w in zip(columns[fixed:], widths[fixed:], strict=True):
        if x < first:
            left.append(" ".join(column.label.plain.split()))  # a header wrapped over lines, on one
        elif x + w > last:
            right.append(" ".join(column.label.plain.split()))
        x += w
    return left, right


class ScrollCue(Static):
    """Names the columns of `table` outside its viewport; hidden while every column is in view."""

    DEFAULT_CSS = "ScrollCue { height: 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }"

    def __init__(self, table: DataTable, noun: str = "column", plural: str = "", **kwargs) -> None:
        super().__init__("", **kwargs)
        self.table, self.noun, self.plural = table, noun, plural or noun + "s"
        self.left: list[str] = []
        self.right: list[str] = []

    def on_mount(self) -> None:
        self.display = False
        self.watch(self.table, "scroll_x", lambda _: self.refresh_cue(), init=False)
        self.watch(self.table, "virtual_size", lambda _: self.refresh_cue(), init=False)

    def on_resize(self) -> None:
        self.refresh_cue()

    def refresh_cue(self) -> None:
        left, right = hidden_columns(self.table)
        self.left, self.right = left, right
        text = Text()
        if left:
            text.append(f"← {len(left)} {self.noun if len(left) == 1 else self.plural} left", style="bold")
            text.append("  ")
        if right:
            text.append(f"→ {len(right)} more {self.noun if len(right) == 1 else self.plural}", style="bold")
        if left or right:  # the keys before the names: a long list ends in '…' at 80 columns
            text.append(" (←/→ scroll)")
        if right:
            text.append(": " + ", ".join(right))
        update_static(self, text)
        self.display = bool(left or right)
