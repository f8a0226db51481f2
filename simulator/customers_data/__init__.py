"""Customer transaction exports in, buy-till-you-die models out (issue 17).

Stages, one module each: `read` (DuckDB reads the export, applies the stated data rules and builds the RFM
summary in SQL), `fit` (BG/NBD and Gamma-Gamma maximum-likelihood fits with pymc-marketing, the optional
`data` extra), `value` (per-customer predictions, CLV, whale curve, holdout check), `scenario_out` (segments
and the scenario file that `extends:` a base).
"""

WEEK_DAYS = 7.0
MONTH_WEEKS = 365.25 / 12 / 7  # 4.348 weeks in a month: the models are fitted in weeks, as the papers are
