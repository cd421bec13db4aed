import json
import subprocess
import sys
from pathlib import Path

from ordersync.orderfile.cli import main

from .conftest import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]


def test_check_orders_writes_the_file_and_the_report(write, tmp_path, capsys):
    path = write(EXAMPLE)
    out, report = tmp_path / "out.csv", tmp_path / "report.json"
    code = main([str(path), "--output", str(out), "--report", str(report)])
    assert code == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    assert (data["rows_total"], data["rows_valid"], data["rows_invalid"]) == (3, 3, 0)
    assert (data["encoding"], data["delimiter"], data["header_row"]) == (
        "utf-8",
        ",",
        1,
    )
    assert data["mapping"]["fields"]["id"] == ["id"]
    missing = [w for w in data["warnings"] if w["code"] == "id_missing"]
    assert missing[0]["row"] == 4
    assert set(data["warnings"][0]) >= {"row", "column", "field", "value", "code",
                                        "message"}  # fmt: skip
    assert out.read_text().count("\n") == 4
    assert "rows: 3, valid: 3" in capsys.readouterr().out


def test_unreadable_file_exits_2_with_a_message(write, capsys):
    code = main([str(write(b"\x89PNG\r\n\x1a\n\x00\x00")), "--lang", "en"])
    assert code == 2
    assert capsys.readouterr().err == (
        "This is not a table file (PNG image). Upload a CSV or an Excel workbook.\n"
    )


def test_manage_py_check_orders_runs_the_same_pipeline(write):
    result = subprocess.run(
        [sys.executable, "manage.py", "check_orders", str(write(b"")), "--lang", "en"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "The file is empty."


def test_a_report_that_cannot_be_written_exits_2_with_a_message(
    write, tmp_path, capsys
):
    report = tmp_path / "missing" / "report.json"
    code = main([str(write(EXAMPLE)), "--report", str(report)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{report}: ") and "No such file or directory" in err
    assert "Traceback" not in err


def test_the_program_form_gives_the_file_and_exit_code(write, tmp_path):
    out = tmp_path / "out.csv"
    result = subprocess.run(
        [sys.executable, "-m", "ordersync.orderfile.cli", str(write(EXAMPLE)),
         "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rows: 3, valid: 3" in result.stdout
    assert out.read_text().count("\n") == 4


def test_a_mapping_file_of_the_wrong_shape_exits_2_with_a_message(
    write, tmp_path, capsys
):
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"constants": [1]}', encoding="utf-8")
    code = main([str(write(EXAMPLE)), "--mapping", str(mapping), "--lang", "en"])
    assert code == 2
    assert capsys.readouterr().err == (
        "The mapping cannot be used: constants is not an object.\n"
    )


def test_a_run_that_fails_before_reading_stops_the_read_ahead(tmp_path):
    # The sheet is still being read in a thread when the options turn out wrong:
    # the command stops it before returning (a thread parsing while the
    # interpreter exits can abort the process).
    import threading

    from .test_fast import gen

    path = gen.write_xlsx(tmp_path / "big.xlsx", 40_000, seed=3)
    assert main([str(path), "--timezone", "Mars/Base"]) == 2
    assert not [t for t in threading.enumerate() if t.name.startswith("xlsx-read")]
