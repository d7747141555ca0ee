"""``python manage.py balance_file``: the management command forwards to the pure ``run``; exit
codes pass through and bad input is one line on stderr with exit code 2. No database."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def units(tmp_path):
    path = tmp_path / "units.csv"
    rows = ["id,value,workload"] + [f"{i:04d},{(i * 37) % 101 + 1},{i % 7 + 1}" for i in range(200)]
    path.write_text("\n".join(rows) + "\n")
    return path


def manage(*argv, env=None):
    return subprocess.run(
        [sys.executable, "manage.py", "balance_file", *map(str, argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_command_works_with_no_database_reachable(units, tmp_path):
    # Port 1 on localhost is closed: any query, or a system check that touches the database,
    # would fail with "connection refused".
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = tmp_path / "out.csv"
    done = manage(units, "--territories", 4, "--json", "--out", out, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["territories"] == 4
    assert len(out.read_text().splitlines()) == 201
    bad = manage(units, "--territories", 0, env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_command_prints_json_and_exits_0(units):
    done = manage(units, "--territories", 5, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["atoms"] == 200 and data["territories"] == 5
    assert data["count"]["max_dev_pct"] == 0


def test_command_writes_the_assignment(units, tmp_path):
    out = tmp_path / "out.csv"
    done = manage(units, "--territories", 4, "--measures", "count,value,workload", "--out", out)
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "id,territory,moved"
    assert len(lines) == 201 and lines[1].startswith("0000,")


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--territories", "3", "--measures", "count,revenue"], "missing measure column 'revenue'"),
        (["--territories", "0"], "at least 1"),
        (["--territories", "201"], "more than the 200 rows"),
    ],
)
def test_command_bad_input_is_one_line_and_exit_2(units, argv, message):
    done = manage(units, *argv)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stdout == ""


def test_command_non_numeric_value(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,value\na,1\nb,n/a\n")
    done = manage(path, "--territories", 1)
    assert done.returncode == 2
    assert "'n/a' is not a number" in done.stderr


def test_command_unknown_adjacency_id(units, tmp_path):
    adj = tmp_path / "adj.csv"
    adj.write_text("a,b\n0000,0001\n0001,9999\n")
    done = manage(units, "--territories", 2, "--adjacency", adj, "--contiguous")
    assert done.returncode == 2
    assert "unknown id '9999'" in done.stderr


def test_call_command_passes_output_and_exit_code(units):
    out, err = io.StringIO(), io.StringIO()
    call_command("balance_file", str(units), "--territories", "4", "--json", stdout=out, stderr=err)
    assert json.loads(out.getvalue())["territories"] == 4
    with pytest.raises(SystemExit) as exc:
        call_command("balance_file", str(units), "--territories", "0", stdout=out, stderr=err)
    assert exc.value.code == 2
    assert err.getvalue().strip() == "error: --territories must be at least 1 (got 0)"
