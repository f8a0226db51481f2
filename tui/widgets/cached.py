"""Widgets that keep what they drew when their tab is shown again.

Textual sends every widget of a tab that comes on screen a Resize, even at the size it had: a DataTable then
re-renders every visible cell (its caches are keyed on a counter each Resize bumps), and a PlotextPlot runs
plotext again (5–15 ms a chart). With nothing changed, what they drew last time is still right.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widgets import DataTable, Footer, OptionList, Static
from textual_plotext import PlotextPlot

PLOT_SIZES = 4  # a tab coming on screen lays its charts out at up to three heights in turn: all of them kept


class SteadyTable(DataTable):
    """A DataTable whose rendered cells outlive a Resize to the size it already had (its tab shown again);
    any change to its rows or columns clears them as before."""

    _rendered_size = None  # the size its render caches are for

    def _on_resize(self, event: events.Resize) -> None:
        if event.size == self._rendered_size:
            event.prevent_default()  # DataTable._on_resize: invalidate every cached cell and line
        self._rendered_size = event.size


class SteadyOptionList(OptionList):
    """An OptionList whose rendered options outlive a Resize that keeps its width (its tab shown again): OptionList
    drops them on every Resize (its cache is not keyed on the width), and the causal map's list of some fifty nodes
    was rendered again each time its tab came on screen (5–10 ms)."""

    _rendered_width = None  # the content width its caches are for

    def _on_resize(self, event: events.Resize) -> None:
        width = (event.size, self.scrollable_content_region.width)
        if width == self._rendered_width:
            event.prevent_default()  # OptionList._on_resize: clear the option and line caches
        self._rendered_width = width


class SteadyFooter(Footer):
    """A Footer that rebuilds its keys only when the keys it shows change. Footer rebuilds them (a recompose:
    a dozen widgets removed, mounted and styled) whenever the screen's bindings are announced, twice for each
    change of focus: a tab switch moves the focus, and the keys shown are most often the same."""

    _shown: tuple | None = None  # what the keys were last built from

    def _keys(self, screen: Screen) -> tuple:
        """Everything of the bindings that `Footer.compose` draws."""
        app = self.app
        active = screen.active_bindings
        shown = tuple((b.key, app.get_key_display(b), b.description, b.action, enabled, tooltip, b.tooltip,
                       (b.group.description, b.group.compact) if b.group is not None else None)
                      for _, b, enabled, tooltip in active.values() if b.show)
        palette = active.get(app.COMMAND_PALETTE_BINDING)
        if palette is not None:
            _, b, enabled, tooltip = palette
            palette = (b.key, app.get_key_display(b), b.description, b.action, enabled, tooltip, b.tooltip)
        return shown, palette, self.show_command_palette, app.ENABLE_COMMAND_PALETTE

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            keys = self._keys(screen)
            if self._bindings_ready and keys == self._shown:
                return  # the same keys: what is on screen is right
            self._shown = keys
        super().bindings_changed(screen)


class CachedPlot(PlotextPlot):
    """A PlotextPlot that builds its chart once per (figure, size, theme). Whoever changes the figure (plt)
    calls `redraw()`, not `refresh()`: the figure's version is part of the key.

    `hold()`: the figure is out of date and about to be redrawn (its tab coming on screen with new data); until
    `redraw()` or `release()` it shows only what it already built at its size, blank otherwise, instead of
    building the old figure at a new size (5–15 ms a chart) to throw it away a frame later."""

    _version = 0
    held = False
    _blank = False  # its last render drew nothing (held, and nothing built at its size)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._built: dict[tuple, Text] = {}

    def redraw(self) -> None:
        """The figure changed: build it again at the next render."""
        self._version += 1
        self._built.clear()
        self.held = False
        self.refresh()

    def hold(self) -> None:
        self.held = True

    def release(self) -> None:
        """The figure is up to date after all: build it at its size again when needed. Repainted only if it drew
        a blank while held: a chart drawn from its cache is already right, and repainting the four charts (their
        text turned into lines again) took 30–40 ms of the frame after their tab came on screen."""
        if self.held:
            self.held = False
            if self._blank:
                self.refresh()

    def render(self) -> Text:
        key = (self._version, self.size.width, self.size.height, self.theme, self.app.theme)
        text = self._built.get(key)
        self._blank = text is None and self.held
        if self._blank:
            return Text()
        if text is None:
            if len(self._built) >= PLOT_SIZES:
                self._built.pop(next(iter(self._built)))
            text = self._built[key] = super().render()
        return text.copy()


def _same(a, b) -> bool:
    """Whether two contents of a Static draw the same (a Text's own style and layout options included)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return (a.plain == b.plain and a.spans == b.spans and a.style == b.style and a.justify == b.justify
                and a.overflow == b.overflow and a.no_wrap == b.no_wrap and a.end == b.end)
    return type(a) is type(b) and isinstance(a, str) and a == b


def update_static(widget: Static, content) -> None:
    """`widget.update(content)` unless it shows that already: each update lays the whole screen out again (~20 ms
    with the lever panel's widgets), and the views re-fit their lines each time their tab is shown."""
    if not _same(widget.content, content):
        widget.update(content)


def update_fitted(widget: Static, content) -> bool:
    """`update_static` for a Static whose height follows its content (height: auto, no padding or border): the
    screen is laid out again only when the new content takes another number of lines at the widget's width (or
    the widget is not on screen, so its width is not known). Returns whether it was: the widgets below it move."""
    if _same(widget.content, content):
        return False
    size = widget.size
    widget.update(content, layout=False)
    if size.width and widget.visual.get_height(widget.styles, size.width) == size.height:
        return False
    widget.refresh(layout=True)
    return True
