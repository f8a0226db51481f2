"""Bad transaction exports: one line with the file, the line and the column (exit 2), or a stated rule with
its count. These need DuckDB only, not the optional `data` extra."""

from __future__ import annotations

import datetime as dt
import sys

import pytest

from simulator.cli import main
from simulator.customers_data.read import read_costs, read_transactions
from simulator.errors import UsageError

GOOD = ["customer_id,date,amount", "a,2024-01-05,10", "a,2024-02-01,12.5", "b,2024-01-10,30", "c,2024-03-01,5"]


def _csv(tmp_path, lines, name="tx.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_good_file_summary(tmp_path):
    tx = read_transactions(_csv(tmp_path, GOOD), calibration_end=dt.date(2024, 2, 15))
    s = tx.summary.set_index("customer_id")
    assert list(s.index) == ["a", "b"]  # c first bought after the calibration end
    assert s.loc["a", "frequency"] == 1 and s.loc["a", "recency"] == pytest.approx(27 / 7)
    assert s.loc["a", "T"] == pytest.approx(41 / 7) and s.loc["a", "monetary_value"] == 12.5
    assert [r.count for r in tx.rules if "after the calibration end" in r.text] == [1]
    assert tx.repeat_by_week[3] == 1 and sum(tx.repeat_by_week) == 1


@pytest.mark.parametrize("lines, message", [
    (["id,date,amount", "a,2024-01-05,10"], "tx.csv:1: no 'customer_id' column (columns: id, date, amount)"),
    (GOOD[:2] + ["b,2024-13-40,3"], "tx.csv:3: column 'date': cannot read '2024-13-40' as a date"),
    (GOOD[:3] + ["b,2024-01-10,12,5"], "tx.csv"),  # a stray field: DuckDB's own one-line message
    (GOOD[:3] + ["b,2024-01-10,ten"], "tx.csv:4: column 'amount': cannot read 'ten' as an amount"),
    (GOOD[:2] + ["b,,3"], "tx.csv:3: column 'date' is empty"),
    (GOOD[:2] + [",2024-01-10,3"], "tx.csv:3: column 'customer_id' is empty"),
    (GOOD[:1], "no transactions"),
])
def test_bad_rows_name_file_line_and_column(tmp_path, lines, message):
    with pytest.raises(UsageError) as exc:
        read_transactions(_csv(tmp_path, lines))
    text = str(exc.value)
    assert message in text and "\n" not in text


def test_rules_are_counted_not_silent(tmp_path):
    lines = GOOD + ["a,2024-01-05,10",  # exact duplicate of line 2
                    "a,2024-02-01,-12.5",  # a return netting the 2024-02-01 purchase to 0
                    "b,2024-01-20,0",  # a free item: a purchase of value 0
                    "d,2024-01-07,-4"]  # a customer with only a return
    tx = read_transactions(_csv(tmp_path, lines))
    rules = {r.text.split(" (")[0].split(":")[0]: r.count for r in tx.rules}
    assert rules["exact duplicate rows kept as separate purchases on that day"] == 1
    assert rules["rows with a negative amount treated as returns"] == 2
    assert rules["customer-days whose returns net the amount to <= 0 not counted as purchases"] == 2
    assert rules["customer-days with amount 0 and no return counted as purchases of value 0"] == 1
    assert rules["customers with no purchase"] == 1
    s = tx.summary.set_index("customer_id")
    assert s.loc["a", "frequency"] == 0 and s.loc["a", "spend"] == 20  # 10 + 10 on day one; day two nets to 0
    assert s.loc["b", "frequency"] == 1  # the free item is a repeat purchase
    dropped = read_transactions(_csv(tmp_path, lines), drop_duplicates=True)
    assert dropped.summary.set_index("customer_id").loc["a", "spend"] == 10


def test_dates_as_yyyymmdd_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tx = read_transactions(_csv(tmp_path, ["cust,day,value", "a,20240105,10", "a,20240201,12"]),
                           customer_id="cust", date="day", amount="value")
    assert tx.summary["frequency"].tolist() == [1]
    ambiguous = read_transactions(_csv(tmp_path, ["customer_id,date,amount", "a,03/04/2024,1", "a,05/04/2024,1"],
                                       "dm.csv"))
    assert ambiguous.summary["recency"].tolist() == [pytest.approx(2 / 7)]  # 3 and 5 April
    assert any(r.text.startswith("dates read as DD/MM/YYYY") and r.count == 2 for r in ambiguous.rules)
    tx = read_transactions(_csv(tmp_path, ["customer_id,date,amount", "a,2024-01-05T10:00:00,10",
                                           "a,2024-02-01 23:59:59,12"], "ts.csv"))
    assert tx.summary["recency"].tolist() == [pytest.approx(27 / 7)]
    with pytest.raises(UsageError, match=r"ts.csv:2: column 'amount': cannot read '12,50' as an amount"):
        read_transactions(_csv(tmp_path, ["customer_id,date,amount", 'a,2024-01-05,"12,50"'], "ts.csv"))
    pq.write_table(pa.table({"customer_id": [1, 1], "date": pa.array([dt.date(2024, 1, 5), dt.date(2024, 1, 19)]),
                             "amount": [1.0, 2.5]}), tmp_path / "typed.parquet")
    typed = read_transactions(tmp_path / "typed.parquet").summary
    assert typed["customer_id"].tolist() == ["1"] and typed["recency"].tolist() == [2.0]
    assert typed["monetary_value"].tolist() == [2.5]
    pq.write_table(pa.table({"customer_id": ["a", "a"], "date": ["2024-01-05", "bad"], "amount": [1.0, 2.0]}),
                   tmp_path / "tx.parquet")
    with pytest.raises(UsageError, match=r"tx.parquet: row 2: column 'date'"):
        read_transactions(tmp_path / "tx.parquet")


def test_costs_file_checks(tmp_path):
    path = _csv(tmp_path, ["customer_id,contacts,handle_minutes", "a,2,20", "b,1,-3"], "costs.csv")
    with pytest.raises(UsageError, match=r"costs.csv:3: column 'handle_minutes': '-3' is not a number >= 0"):
        read_costs(path, None, 0.3)
    path = _csv(tmp_path, ["customer_id,contacts,handle_minutes", "a,2,20", "a,1,10"], "costs.csv")
    costs = read_costs(path, None, 0.5)
    assert costs.table.set_index("customer_id").loc["a", "cost"] == pytest.approx(15.0)
    with pytest.raises(UsageError, match="needs a 'contacts', 'handle_minutes' or 'cost' column"):
        read_costs(_csv(tmp_path, ["customer_id,x", "a,1"], "c2.csv"), None, 0.3)


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    path = _csv(tmp_path, GOOD[:2] + ["b,yesterday,3"])
    assert main(["import", str(path), "--out", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "tx.csv:3: column 'date'" in err
    assert main(["import", str(path), "--out", str(tmp_path / "s.txt")]) == 2
    assert "give a .yaml file" in capsys.readouterr().err
    assert main(["portfolio", str(path), "--calibration-end", "2024-02-30"]) == 2
    assert "--calibration-end 2024-02-30: not a date" in capsys.readouterr().err
    assert main(["portfolio", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_missing_extra_names_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymc_marketing", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "pymc_marketing.clv", None)
    assert main(["portfolio", str(_csv(tmp_path, GOOD))]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install ".[data]"' in err
