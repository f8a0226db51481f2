"""Read a transaction export with DuckDB (CSV or Parquet, never loaded whole into pandas), check it, and build
the RFM summary per customer in SQL.

Bad input is one line naming the file, the row and the column (`UsageError`, exit 2). Data that is usable
under a stated rule is kept and the rule is reported with its count (`Rule`), so nothing is dropped silently:
- rows with the same customer and day are one purchase (their amounts summed: returns net out that day);
- a customer-day whose net amount is zero or negative is not a purchase (a return or a refund);
- exact duplicate rows are counted and kept (or dropped with `drop_duplicates`);
- customers whose first purchase is after the calibration end are left out of the fit and counted.
Times are in weeks, as in Fader, Hardie & Lee (2005).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from simulator.customers_data import WEEK_DAYS
from simulator.errors import UsageError

DATE_FORMATS = ("%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y")  # after ISO dates and timestamps


@dataclass(frozen=True)
class Rule:
    """A data rule that changed or excluded something, with how many rows/customers it touched."""

    text: str
    count: int


@dataclass
class Transactions:
    """The export after the checks: the RFM summary (calibration), holdout counts and what was done."""

    file: str
    summary: pd.DataFrame  # customer_id, frequency, recency, T (weeks), monetary_value, spend, first, [holdout]
    calibration_start: dt.date
    calibration_end: dt.date
    last_date: dt.date
    rows: int
    purchases: int  # customer-days with a positive net amount, in the calibration period
    holdout_weeks: float  # 0 without a holdout period
    rules: list[Rule] = field(default_factory=list)
    segment_column: str | None = None
    repeat_by_week: list[int] = field(default_factory=list)  # repeat purchases per week since the first date

    @property
    def customers(self) -> int:
        return len(self.summary)

    @property
    def calibration_weeks(self) -> float:
        return (self.calibration_end - self.calibration_start).days / WEEK_DAYS


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open_raw(path: Path, what: str):
    """A DuckDB connection holding the file as table `raw` (with its file row number) and the file's columns."""
    import duckdb

    if not path.is_file():
        raise UsageError(f"no such file: {path}{what}")
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TEMP TABLE raw AS SELECT row_number() OVER () AS row, * FROM {_source(path)}")
        columns = [d[0] for d in con.execute("SELECT * FROM raw LIMIT 0").description if d[0] != "row"]
    except duckdb.Error as exc:
        raise _csv_error(path, exc) from None
    return con, columns


def _source(path: Path) -> str:
    """DuckDB table function for the file. A CSV's header is read here and the schema given explicitly (all text):
    DuckDB's sniffer would otherwise take a malformed row with an extra field for the header."""
    import csv
    import gzip

    text = str(path).replace("'", "''")
    if path.suffix.lower() in (".parquet", ".pq"):
        return f"read_parquet('{text}')"
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it as CSV ({exc})") from None
    delim = max(",;\t|", key=first.count)
    names = next(csv.reader([first], delimiter=delim), [])
    if not names or not any(n.strip() for n in names):
        raise UsageError(f"{path}:1: no header line (hint: the first line names the columns, e.g. "
                         "customer_id,date,amount)")
    cols = ", ".join("'" + n.strip().replace("'", "''") + "': 'VARCHAR'" for n in names)
    sep = delim.replace("'", "''").replace("\t", "\\t")
    return (f"read_csv('{text}', auto_detect=false, header=false, skip=1, delim='{sep}', quote='\"', escape='\"', "
            f"columns={{{cols}}})")


def _csv_error(path: Path, exc: Exception) -> UsageError:
    """DuckDB's multi-line CSV error as one line with the file and line."""
    import re

    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if line and counts:
        return UsageError(f"{path}:{line.group(1)}: {counts.group(2)} fields where the header has {counts.group(1)} "
                          "(hint: quote values that contain the delimiter)")
    if line:
        return UsageError(f"{path}:{line.group(1)}: cannot parse this line ({text.strip().splitlines()[0]})")
    return UsageError(f"{path}: cannot read it ({text.strip().splitlines()[0]})")


def _row_label(path: Path, row: int) -> str:
    """CSV: the file line (the header is line 1); Parquet: the row number."""
    return f"{path}:{row + 1}" if path.suffix.lower() not in (".parquet", ".pq") else f"{path}: row {row}"


def _pick(columns: list[str], wanted: str | None, default: str, option: str, path: Path) -> str:
    if wanted is None:
        match = next((c for c in columns if c.lower() == default), None)
        if match is None:
            raise UsageError(f"{path}:1: no '{default}' column (columns: {', '.join(columns)}); "
                             f"name yours with {option} COL")
        return match
    if wanted not in columns:
        raise UsageError(f"{path}:1: no column '{wanted}' given by {option} (columns: {', '.join(columns)})")
    return wanted


def _date_sql(con, view: str, col: str, path: Path, rules: list[Rule]) -> str:
    """The SQL expression that parses the date column: the first format every non-empty value fits."""
    c = _q(col)
    best = None
    typed = [f"try_cast({c} AS DATE)", f"CAST(try_cast({c} AS TIMESTAMP) AS DATE)"]  # Parquet dates, ISO times
    for expr in typed + [f"CAST(try_strptime(trim(CAST({c} AS VARCHAR)), '{fmt}') AS DATE)" for fmt in DATE_FORMATS]:
        bad = con.execute(f"SELECT count(*) FROM {view} WHERE {c} IS NOT NULL AND {expr} IS NULL").fetchone()[0]
        if bad == 0:
            if "%d/%m/%Y" in expr:  # 03/04/2024: April in Europe, March in the US; say which was taken
                us = f"CAST(try_strptime(trim(CAST({c} AS VARCHAR)), '%m/%d/%Y') AS DATE)"
                if con.execute(f"SELECT count(*) FROM {view} WHERE {us} IS NULL").fetchone()[0] == 0:
                    rules.append(Rule("dates read as DD/MM/YYYY, though MM/DD/YYYY also fits every row: check "
                                      "(rows)", con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]))
            return expr
        if best is None or bad < best[1]:
            best = (expr, bad)
    row, value = con.execute(f"SELECT row, CAST({c} AS VARCHAR) FROM {view} WHERE {c} IS NOT NULL AND {best[0]} IS NULL "
                         "ORDER BY row LIMIT 1").fetchone()
    raise UsageError(f"{_row_label(path, row)}: column '{col}': cannot read '{value}' as a date "
                     f"(hint: use one format throughout, e.g. 2024-03-31)")


def read_transactions(path: str | Path, *, customer_id: str | None = None, date: str | None = None,
                      amount: str | None = None, calibration_end: dt.date | None = None,
                      segment_column: str | None = None, drop_duplicates: bool = False) -> Transactions:
    """Check the export and summarise it per customer (frequency = repeat purchase days, as in the papers)."""
    path = Path(path)
    con, columns = _open_raw(path, "")
    cid = _pick(columns, customer_id, "customer_id", "--customer-id", path)
    dcol = _pick(columns, date, "date", "--date", path)
    acol = _pick(columns, amount, "amount", "--amount", path)
    seg = _pick(columns, segment_column, segment_column or "", "--segments", path) if segment_column else None
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    if rows == 0:
        raise UsageError(f"{path}: no transactions (only a header)")
    for col in (cid, dcol, acol):
        hit = con.execute(f"SELECT row FROM raw WHERE {_q(col)} IS NULL OR trim(CAST({_q(col)} AS VARCHAR)) = '' "
                      "ORDER BY row LIMIT 1").fetchone()
        if hit:
            raise UsageError(f"{_row_label(path, hit[0])}: column '{col}' is empty (hint: every row needs a customer, "
                             "a date and an amount)")
    rules: list[Rule] = []
    date_expr = _date_sql(con, "raw", dcol, path, rules)
    amount_expr = f"try_cast(trim(CAST({_q(acol)} AS VARCHAR)) AS DOUBLE)"  # "12,50" is refused, never read as 1250
    hit = con.execute(f"SELECT row, CAST({_q(acol)} AS VARCHAR) FROM raw WHERE {amount_expr} IS NULL OR NOT isfinite("
                  f"{amount_expr}) ORDER BY row LIMIT 1").fetchone()
    if hit:
        raise UsageError(f"{_row_label(path, hit[0])}: column '{acol}': cannot read '{hit[1]}' as an amount "
                         "(hint: a plain number such as 12.50, no thousands separator)")
    seg_sql = f", CAST({_q(seg)} AS VARCHAR) AS seg" if seg else ""
    con.execute(f"CREATE TEMP TABLE tx AS SELECT row, CAST({_q(cid)} AS VARCHAR) AS c, {date_expr} AS d, "
            f"{amount_expr} AS a{seg_sql} FROM raw")
    dup = con.execute("SELECT count(*) - count(DISTINCT (c, d, a" + (", seg" if seg else "") + ")) FROM tx").fetchone()[0]
    if dup:
        if drop_duplicates:
            con.execute("CREATE OR REPLACE TEMP TABLE tx AS SELECT * FROM tx QUALIFY row_number() OVER "
                    "(PARTITION BY c, d, a ORDER BY row) = 1")
            rules.append(Rule("exact duplicate rows dropped (--drop-duplicates)", dup))
        else:
            rules.append(Rule("exact duplicate rows kept as separate purchases on that day "
                              "(give --drop-duplicates if they are export errors)", dup))
    negatives = con.execute("SELECT count(*) FROM tx WHERE a < 0").fetchone()[0]
    if negatives:
        rules.append(Rule("rows with a negative amount treated as returns: netted within their customer-day", negatives))
    first_date, last_date = con.execute("SELECT min(d), max(d) FROM tx").fetchone()
    end = calibration_end or last_date
    if end < first_date:
        raise UsageError(f"--calibration-end {end} is before the first transaction ({first_date}) in {path}")
    con.execute("CREATE TEMP TABLE days AS SELECT c, d, sum(a) AS a, count(*) AS n, bool_or(a < 0) AS ret, "
                "sum(a) > 0 OR (sum(a) = 0 AND NOT bool_or(a < 0)) AS buy FROM tx GROUP BY c, d")
    merged = con.execute("SELECT sum(n - 1) FROM days WHERE n > 1").fetchone()[0] or 0
    if merged:
        rules.append(Rule("rows merged into the same customer-day (one purchase per customer per day, amounts summed)",
                          int(merged)))
    free = con.execute("SELECT count(*) FROM days WHERE a = 0 AND buy").fetchone()[0]
    if free:
        rules.append(Rule("customer-days with amount 0 and no return counted as purchases of value 0", free))
    nonpos = con.execute("SELECT count(*) FROM days WHERE NOT buy").fetchone()[0]
    if nonpos:
        rules.append(Rule("customer-days whose returns net the amount to <= 0 not counted as purchases (the amount "
                          "still nets into the customer's spend)", nonpos))
    never = con.execute("SELECT count(*) FROM (SELECT c FROM days GROUP BY c HAVING NOT bool_or(buy))").fetchone()[0]
    if never:
        rules.append(Rule("customers with no purchase (only returns or zero amounts) left out", never))
    end_lit = f"DATE '{end.isoformat()}'"
    late = con.execute(f"SELECT count(*) FROM (SELECT c FROM days WHERE buy GROUP BY c HAVING min(d) > {end_lit})"
                   ).fetchone()[0]
    if late:
        rules.append(Rule(f"customers whose first purchase is after the calibration end {end} left out of the fit "
                          "(new customers of the holdout period)", late))
    seg_pick = (", (SELECT arg_min(seg, row) FROM tx WHERE tx.c = f.c) AS segment") if seg else ""
    summary = con.execute(f"""
        WITH p AS (SELECT c, d, a FROM days WHERE buy),
        f AS (SELECT c, min(d) AS fd FROM p GROUP BY c HAVING min(d) <= {end_lit}),
        cal AS (SELECT p.c, count(*) - 1 AS frequency, date_diff('day', min(f.fd), max(p.d)) / {WEEK_DAYS} AS recency,
                       sum(p.a) FILTER (WHERE p.d > f.fd) AS repeat_spend
                FROM p JOIN f USING (c) WHERE p.d <= {end_lit} GROUP BY p.c),
        net AS (SELECT c, sum(a) AS spend FROM days WHERE d <= {end_lit} GROUP BY c),
        hold AS (SELECT c, count(*) AS holdout FROM p WHERE d > {end_lit} GROUP BY c)
        SELECT f.c AS customer_id, cal.frequency, cal.recency,
               date_diff('day', f.fd, {end_lit}) / {WEEK_DAYS} AS "T",
               coalesce(cal.repeat_spend / nullif(cal.frequency, 0), 0) AS monetary_value,
               net.spend, f.fd AS first, coalesce(hold.holdout, 0) AS holdout{seg_pick}
        FROM f JOIN cal USING (c) JOIN net USING (c) LEFT JOIN hold USING (c) ORDER BY f.c""").df()
    weekly = con.execute(f"""
        WITH p AS (SELECT c, d FROM days WHERE buy), f AS (SELECT c, min(d) AS fd FROM p GROUP BY c
                                                            HAVING min(d) <= {end_lit})
        SELECT CAST(floor(date_diff('day', DATE '{first_date.isoformat()}', p.d) / {WEEK_DAYS}) AS INTEGER) AS w,
               count(*) FROM p JOIN f USING (c) WHERE p.d > f.fd GROUP BY w ORDER BY w""").fetchall()
    weeks = int((last_date - first_date).days // WEEK_DAYS) + 1
    repeat_by_week = [0] * weeks
    for w, n in weekly:
        repeat_by_week[w] = n
    purchases = int(summary["frequency"].sum() + len(summary))
    con.close()
    if summary.empty:
        raise UsageError(f"{path}: no customer has a purchase on or before the calibration end {end}")
    holdout_weeks = (last_date - end).days / WEEK_DAYS if calibration_end else 0.0
    if not calibration_end:
        summary = summary.drop(columns="holdout")
    return Transactions(str(path), summary, first_date, end, last_date, rows, purchases, holdout_weeks, rules,
                        "segment" if seg else None, repeat_by_week)


@dataclass
class Costs:
    """Cost to serve per customer over the calibration period, from a costs file."""

    file: str
    table: pd.DataFrame  # customer_id, contacts, handle_minutes (total), cost (money)
    rules: list[Rule] = field(default_factory=list)


def read_costs(path: str | Path, customer_id: str | None, minute_rate: float) -> Costs:
    """A costs file: one row per customer (or many, summed) with `contacts` and/or `handle_minutes` (total over
    the calibration period) and/or `cost` (money). Without `cost`, minutes are costed at `minute_rate`."""
    path = Path(path)
    con, columns = _open_raw(path, " (--costs)")
    cid = _pick(columns, customer_id, "customer_id", "--customer-id", path)
    lower = {c.lower(): c for c in columns}
    present = [k for k in ("contacts", "handle_minutes", "cost") if k in lower]
    if not present:
        raise UsageError(f"{path}:1: a costs file needs a 'contacts', 'handle_minutes' or 'cost' column "
                         f"(columns: {', '.join(columns)})")
    parts = []
    for key in ("contacts", "handle_minutes", "cost"):
        if key not in lower:
            parts.append(f"NULL AS {key}")
            continue
        col = _q(lower[key])
        expr = f"try_cast(trim(CAST({col} AS VARCHAR)) AS DOUBLE)"
        hit = con.execute(f"SELECT row, CAST({col} AS VARCHAR) FROM raw WHERE {col} IS NOT NULL AND "
                          f"({expr} IS NULL OR {expr} < 0) ORDER BY row LIMIT 1").fetchone()
        if hit:
            raise UsageError(f"{_row_label(path, hit[0])}: column '{lower[key]}': '{hit[1]}' is not a number >= 0")
        parts.append(f"sum({expr}) AS {key}")
    table = con.execute(f"SELECT CAST({_q(cid)} AS VARCHAR) AS customer_id, {', '.join(parts)} FROM raw "
                        f"GROUP BY 1").df()
    con.close()
    rules = []
    if "cost" not in present:
        if "handle_minutes" not in present:
            raise UsageError(f"{path}:1: 'contacts' alone cannot be costed: add 'handle_minutes' or 'cost'")
        table["cost"] = table["handle_minutes"] * minute_rate
        rules.append(Rule(f"cost to serve = handle minutes x the base's capacity cost rate {minute_rate:.3f} "
                          "per minute", len(table)))
    return Costs(str(path), table, rules)
