"""Help: what each view shows and every key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# spc tui

Compare CRM strategies on the service-profit chain. Every strategy runs on the same random customers
(common random numbers), so differences are paired; replications stream in and the intervals narrow.

| key | action |
|---|---|
| `o` | open a scenario (browser) |
| `r` | run again now |
| `c` | cancel the running simulation (on the Decision tab: the running decision) |
| `d` | decide under uncertainty: open the Decision tab and start a decision for the open scenario |
| `a` | automatic re-run after a lever edit on/off |
| `l` | show or hide the lever panel |
| `s` | save edits as a new scenario (`extends:` the original, only the changes) |
| `1`–`6` | comparison, scorecard, time series, causal map, customers, decision |
| `p` | pin the results on screen; after a lever edit re-runs, the comparison and scorecard show before → after against them (`p` again: unpin) |
| `h` | highlight the next strategy's band in the time series |
| `m` | time series: profit cumulative (default) or monthly (3-month rolling mean) |
| `←` `→` | scroll a wide table (the line under it names the columns off screen) |
| `C` | calibration to history: fit the open scenario to a monthly history file (as `spc calibrate`) and plot it |
| `P` | customer portfolio: fit a transaction export (as `spc portfolio`; needs the `data` extra) |
| `t` | light or dark theme |
| `ctrl+p` | command palette: every action by name |
| `?` | this help · `q` quit |

**Comparison**: first what to do: the recommendation over the replications so far (assumptions at their point
values; the same rule and text as `spc run` and `spc decide`), its headline and reasons, then the table.
First the measure the ranking and the verdict judge: Δ firm value against baseline once the run has valued the
customers left at the horizon (Δ NPV while it streams, or when the scenario ranks on NPV), with its 95% CI (green
when the whole interval is above zero), P(better) as replications won on that measure with the 95% interval of
that share, e.g. "7/10 (34–94%)", and the verdict; then the other measure (Δ NPV), ROI of the initiative spend,
payback month, Δ satisfaction. ★ marks the recommended strategy. "not yet": the interval still spans zero; "reps
for 80% power" is how many paired replications a t test needs to detect the Δ seen so far four times in five.
Money is in the scenario's currency, without cents. With a pinned run (`p`), a column after the verdict shows each
strategy's Δ then → now ("Δ firm value pinned → now"); where the width is short it shows the change alone
("vs pinned"), and at 80 columns P(better) shows its count without the interval to keep it in view.

**Scorecard**: the four perspectives; each KPI's value, status (● green ◐ amber ○ red) and P(green), the share
of replications in which it is green (for a perspective: in which its weighted roll-up is green). The recommended
strategy (★) comes first, then baseline, then the rest by rank. With a pinned run, ▲/▼ give each KPI's change.

**Time series**: means per strategy, each with its own colour (Okabe–Ito, colour-blind safe) and marker; the
highlighted strategy (`h`) with its 95% band. Profit is cumulative, so a one-off spend shows as a step instead
of setting the scale; such spikes are marked ▼/▲ and named under the charts. The x axis covers the horizon.

**Causal map**: each node's causes, effects and the feedback loops through it (R reinforcing, B balancing).

**Customers**: the whale curve averaged over the replications (95% band for the highlighted strategy), customer
equity and lifetime value per segment.

**Decision**: `spc decide` for the open scenario, with your lever edits. It does not start by itself, because it
costs draws × strategies × replications runs (the tab shows how many): press `d` to start it, `c` on the tab to
cancel it. Every strategy runs on every draw of the scenario's uncertain assumptions on the same random numbers;
the recommendation, the table and the value-of-information ranking refine about once a second as draws complete
("12/64 draws"). Columns: Δ against baseline with its 95% CI over the draws, the 5–95% range of the draws, P(best),
P(better than baseline), expected and maximum regret, the worst 5% of draws (CVaR), P(every perspective green);
the line under the table names the columns off screen, `←`/`→` scroll to them (the strategy stays in view).
EVPPI: what knowing one assumption exactly would be worth, i.e. which one to test first. A scenario without
uncertain assumptions says how to write them as distributions (README, "Assumptions as distributions").

**Levers**: ↑/↓ choose a lever, enter edits it in the input under the list; the number is checked as you type and
the comparison re-runs after a short pause; enter goes back to the list, esc gives the keys back. An effect's name
starts with what it does: + adds, × scales, = sets; hover the input for the lever's path in the scenario file.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss(None)", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
