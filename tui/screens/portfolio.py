"""The customer portfolio of a transaction export (`spc portfolio` in the terminal UI; key P or the palette).

The fit (BG/NBD and Gamma-Gamma through pymc-marketing, the optional `data` extra) runs in a child process
watched by a worker thread: a fit cannot be interrupted inside pymc, but a process can be ended, so cancelling
or closing the screen leaves nothing running. The numbers are `simulator.customers_data.report_section`'s, the
same function behind `spc portfolio` and `spc report --transactions`.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import sys
import threading
import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual_plotext import PlotextPlot

from simulator.analysis.units import money

PARAM_NOTES = {"r": "purchase rate shape", "alpha": "purchase rate scale (weeks)", "a": "dropout shape a",
               "b": "dropout shape b", "p": "spend shape p", "q": "spend shape q", "gamma": "spend scale γ"}


def _fit_in_child(conn, path: str, calibration_end: dt.date | None, draws: int) -> None:
    """Child process: the portfolio as plain data, or the one-line error; its output never reaches the screen."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        from simulator.customers_data.report_section import analyse_transactions
        from simulator.errors import ScenarioError, UsageError

        try:
            conn.send(("done", analyse_transactions(path, calibration_end=calibration_end, draws=draws)[1]))
        except (UsageError, ScenarioError) as exc:
            conn.send(("error", str(exc.problems[0]) if isinstance(exc, ScenarioError) else str(exc)))
    except Exception as exc:  # noqa: BLE001 - anything else still reaches the screen as one line
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class PortfolioScreen(Screen[None]):
    """A transaction file (and optionally a calibration end), then enter: equity, parameters, whale, customers."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+x", "cancel_fit", "Cancel fit")]
    DEFAULT_CSS = """
    PortfolioScreen #portfolio-inputs { height: 3; }
    PortfolioScreen #portfolio-path { width: 2fr; }
    PortfolioScreen #portfolio-cal-end { width: 1fr; }
    PortfolioScreen #portfolio-progress { height: 1; padding: 0 1; }
    PortfolioScreen #portfolio-summary { padding: 0 1; height: auto; }
    PortfolioScreen #portfolio-params { height: auto; max-height: 10; }
    PortfolioScreen #portfolio-whale { height: 16; }
    PortfolioScreen #portfolio-customers { height: auto; max-height: 24; }
    """

    def __init__(self, currency: str | None = None, path: str = "", draws: int = 100) -> None:
        super().__init__()
        self.currency = currency  # the open scenario's (a transaction export names none)
        self.initial_path = path
        self.draws = draws
        self.report: dict | None = None  # the last fitted portfolio (tests)
        self.error: str | None = None  # the last fit's one-line error
        self.fitting = False
        self._stop = threading.Event()
        self._process = None

    def compose(self) -> ComposeResult:
        yield Static("[b]Customer portfolio[/]: a transaction export (CSV or Parquet: customer_id, date, amount) "
                     "fitted with BG/NBD and Gamma-Gamma  [dim]enter fits · ctrl+x cancels · esc closes[/]",
                     classes="panel-title")
        with Horizontal(id="portfolio-inputs"):
            yield Input(self.initial_path, placeholder="transactions.csv", id="portfolio-path")
            yield Input(placeholder="calibration end YYYY-MM-DD (optional)", id="portfolio-cal-end")
        yield Static("", id="portfolio-progress")
        with VerticalScroll(id="portfolio-body"):
            yield Static("", id="portfolio-summary")
            yield DataTable(id="portfolio-params", zebra_stripes=True, cursor_type="row")
            yield PlotextPlot(id="portfolio-whale")
            yield DataTable(id="portfolio-customers", zebra_stripes=True, cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#portfolio-path", Input).focus()
        for empty in ("#portfolio-params", "#portfolio-whale", "#portfolio-customers"):  # shown once fitted
            self.query_one(empty).display = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = self.query_one("#portfolio-path", Input).value.strip()
        end_text = self.query_one("#portfolio-cal-end", Input).value.strip()
        if not path:
            self._progress("Type the path of a transaction file, then enter", "yellow")
            return
        if not os.path.isfile(path):
            self._progress(f"{path}: no such file", "red")
            return
        try:
            end = dt.date.fromisoformat(end_text) if end_text else None
        except ValueError:
            self._progress(f"calibration end {end_text}: not a date (use YYYY-MM-DD)", "red")
            return
        if self.fitting:
            self._progress("A fit is running: ctrl+x cancels it", "yellow")
            return
        self.fit(path, end, *self._start_child(path, end))

    def _start_child(self, path: str, calibration_end: dt.date | None):
        """(process, its pipe) or (None, the error): started here, on the UI thread, with the process's own
        stdout/stderr in place, since Textual's stand-ins have no file descriptor for the child to inherit."""
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_fit_in_child, args=(send, path, calibration_end, self.draws), daemon=True,
                           name="spc-portfolio-fit")
        saved = sys.stdout, sys.stderr
        try:
            sys.stdout, sys.stderr = sys.__stdout__ or sys.stdout, sys.__stderr__ or sys.stderr
            proc.start()
        except Exception as exc:  # noqa: BLE001 - said on the progress line, not a traceback
            receive.close()
            return None, f"cannot start the fit: {type(exc).__name__}: {exc}"
        finally:
            sys.stdout, sys.stderr = saved
            send.close()
        self._process = proc
        self._stop.clear()
        self.fitting, self.error = True, None
        return proc, receive

    def _progress(self, text: str, style: str = "") -> None:
        if not self.is_attached:  # a worker's last word after the screen closed
            return
        self.query_one("#portfolio-progress", Static).update(Text(text, style=style))

    @work(thread=True, exclusive=True, group="portfolio")
    def fit(self, path: str, calibration_end: dt.date | None, proc, receive) -> None:
        """Report elapsed time while the child fits, hand its result to the screen (or end the child)."""
        start = time.perf_counter()
        outcome: tuple[str, object] | None = None if proc is not None else ("error", receive)
        try:
            while outcome is None and not self._stop.is_set():
                if receive.poll(0.25):
                    try:
                        outcome = receive.recv()
                    except EOFError:
                        outcome = ("error", "the fit ended without a result")
                    break
                if not proc.is_alive():
                    outcome = ("error", f"the fit process ended (exit code {proc.exitcode})")
                    break
                elapsed = time.perf_counter() - start
                self.app.call_from_thread(self._progress, f"Fitting BG/NBD and Gamma-Gamma to {path}… {elapsed:.0f} s")
        finally:
            self._end_process()
            if proc is not None:
                receive.close()
            self.fitting = False
        seconds = time.perf_counter() - start
        if outcome is None:
            self.app.call_from_thread(self._progress, f"Fit cancelled after {seconds:.0f} s", "yellow")
        elif outcome[0] == "error":
            self.error = " ".join(str(outcome[1]).split())  # one line, however the library worded it
            self.app.call_from_thread(self._progress, self.error, "red")
        else:
            self.app.call_from_thread(self.show, outcome[1], seconds)

    def _end_process(self) -> None:
        proc, self._process = self._process, None
        if proc is None or proc.pid is None:  # never started
            return
        if proc.is_alive():
            proc.terminate()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(1)

    def action_cancel_fit(self) -> None:
        if self.fitting:
            self._stop.set()
            self._progress("Cancelling the fit…", "yellow")

    def action_close(self) -> None:
        self._stop.set()
        self.dismiss(None)

    def on_unmount(self) -> None:
        self._stop.set()  # the worker ends the child process at its next poll (within 0.25 s)

    # ---- showing a fitted portfolio ---------------------------------------------------------------------------
    def show(self, rep: dict, seconds: float = 0.0) -> None:
        self.report = rep
        if not self.is_attached:
            return
        cur = self.currency
        fit, eq, w, r = rep["fit"], rep["equity"], rep["whale"], rep["repricing"]
        cal = fit["calibration"]
        self._progress(f"Fitted in {seconds:.1f} s: {fit['customers']:,} customers, {fit['purchases']:,} purchases, "
                       f"calibration {cal['start']} to {cal['end']} ({cal['weeks']} weeks)", "green")
        ci = f" (95% {money(eq['ci95'][0], cur)} to {money(eq['ci95'][1], cur)})" if eq["ci95"] else ""
        lines = [Text.assemble(("Customer equity ", "bold"), (money(eq["clv_sum"], cur), "bold"), ci,
                               f" · {eq['expected_alive']:,.0f} of {eq['customers']:,} customers expected alive"),
                 Text(f"Whale curve: the top 20% of customers hold {w['realised_top20']:.1%} of realised profit "
                      f"and {w['predicted_top20']:.1%} of predicted CLV")]
        if rep["assumptions"]["cost_to_serve"]:
            lines.append(Text(f"Repricing candidates: {r['customers']:,} customers with negative expected value "
                              f"after cost to serve; repricing them to break even (or letting them go) is worth "
                              f"{money(r['worth'], cur)}"))
        else:
            lines.append(Text("Repricing candidates: none without a costs file (spc portfolio --costs): every "
                              "expected value is zero or more", style="dim"))
        if "holdout" in rep:
            h = rep["holdout"]
            lines.append(Text(f"Holdout ({h['weeks']:.1f} weeks): actual {h['actual']:,} repeat purchases, "
                              f"predicted {h['predicted_conditional']:,.0f} "
                              f"({h['predicted_conditional'] / max(h['actual'], 1) - 1:+.1%})"))
        asm = rep["assumptions"]
        lines.append(Text(f"{asm['margin']:g} margin, {asm['horizon_months']} months, "
                          f"{asm['annual_discount']:.0%} a year discount; money "
                          + (f"in the open scenario's currency ({cur})" if cur else "as in the file"), style="dim"))
        self.query_one("#portfolio-summary", Static).update(Text("\n").join(lines))
        params = self.query_one("#portfolio-params", DataTable)
        params.display = True
        params.clear(columns=True)
        params.add_columns("model", "parameter", "estimate", "95% interval", "meaning")
        for m in fit["models"]:
            for k, p in m["parameters"].items():
                params.add_row(m["model"], k, f"{p['estimate']:.4g}", f"{p['ci95'][0]:.4g} to {p['ci95'][1]:.4g}",
                               PARAM_NOTES.get(k, ""))
        self._whale(w)
        table = self.query_one("#portfolio-customers", DataTable)
        table.display = True
        table.clear(columns=True)
        table.add_columns("", "customer", "repeat", "P(alive)", "purch. 12m", "spend", "CLV", "CLV 95%")
        for kind, rows in (("top", rep.get("top", [])), ("reprice", rep.get("candidates", []))):
            for c in rows:
                band = (f"{money(c['clv_lo'], cur)} to {money(c['clv_hi'], cur)}" if "clv_lo" in c else "-")
                table.add_row(kind, str(c["customer_id"]), f"{c['frequency']:,.0f}", f"{c['p_alive']:.2f}",
                              f"{c['purchases_12m']:.2f}", money(c["spend"], cur), money(c["clv"], cur), band)

    def _whale(self, w: dict) -> None:
        plot = self.query_one("#portfolio-whale", PlotextPlot)
        plot.display = True
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("Whale curve: share of total value (%), most valuable customers first")
        for key, label, colour in (("realised", "realised profit", "blue"),
                                   ("predicted", "predicted CLV", "orange")):
            xs, ys = zip(*w[key], strict=True)
            plt.plot([100 * x for x in xs], [100 * y for y in ys], label=label, color=colour, marker="braille")
        plt.xlabel("customers (%)")
        plt.ylim(0, 100)
        plt.yticks([0, 25, 50, 75, 100])
        plt.xticks([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
        plot.refresh()
