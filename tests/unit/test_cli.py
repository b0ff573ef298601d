"""The `counsel` command as an operator meets it (issue 21 item 6): its version, colour only for people, and one
clear line with a non-zero exit for every expected failure — never a traceback."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from deploy.cli import main
from deploy.terminal import RED, colour_enabled, paint

if TYPE_CHECKING:
    from tests.conftest import Identities


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_counsel(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The console script's entry point in a fresh interpreter, as an operator runs it."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("COUNSEL_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import sys; from deploy.cli import main; sys.exit(main())", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"counsel {version('counsel')}"


def test_a_bad_date_is_one_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["payment", "reconcile", "--date", "2026-13-45"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --date: not a date (YYYY-MM-DD): '2026-13-45'" in err
    assert "Traceback" not in err


def test_a_restore_time_without_an_offset_is_one_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["restore", "--to", "2026-12-06T14:05:00", "--into", "/tmp/nowhere"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --to: not an RFC 3339 time with an offset" in err
    assert "Traceback" not in err


def test_backup_and_restore_refusals_are_one_line_and_exit_1(tmp_path: Path) -> None:
    backup = run_counsel("backup", COUNSEL_DATA_DIR=str(tmp_path))
    assert backup.returncode == 1, backup.stderr
    assert (
        backup.stderr
        == f"counsel backup: counsel is not running on {tmp_path} (no {tmp_path}/run/stack.json): start it with `counsel up`\n"
    )
    (tmp_path / "taken" / "something").mkdir(parents=True)
    restore = run_counsel("restore", "--to", "2026-12-06T14:05:00Z", "--into", str(tmp_path / "taken"))
    assert restore.returncode == 1, restore.stderr
    assert "is not empty: a restore writes a fresh data folder" in restore.stderr
    assert "Traceback" not in restore.stderr
    empty = run_counsel(
        "restore", "--to", "2026-12-06T14:05:00Z", "--into", str(tmp_path / "new"), "--from", str(tmp_path)
    )
    assert empty.stderr == f"counsel restore: no backup set in {tmp_path} (`counsel backup` takes one)\n"


def test_an_unreachable_database_is_one_line_and_exit_1() -> None:
    port = closed_port()
    url = f"postgresql://counsel:x@127.0.0.1:{port}"
    result = run_counsel("migrate", COUNSEL_ENV="dev", COUNSEL_DATABASE_URL=url)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"counsel migrate: cannot reach a server: [Errno 111] Connect call failed ('127.0.0.1', {port})"
    ]
    # Through a service's store, which first waits out a failover's worth (its warning is logged meanwhile).
    result = run_counsel("ledger", "verify", COUNSEL_ENV="dev", COUNSEL_DATABASE_URL=url)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "counsel ledger: the database has no primary; retry later "
        f"([Errno 111] Connect call failed ('127.0.0.1', {port}))"
    )


def test_an_unreachable_service_is_one_line_and_exit_1(pki: Identities) -> None:
    operator = pki.files("operator")
    result = run_counsel(
        "documents",
        "cancel",
        "d-1",
        "--reason",
        "test",
        COUNSEL_ENV="dev",
        COUNSEL_TLS_CA_FILE=str(operator.ca_file),
        COUNSEL_TLS_CERT_FILE=str(operator.cert_file),
        COUNSEL_TLS_KEY_FILE=str(operator.key_file),
        COUNSEL_DOCUMENTS_ADDR=f"127.0.0.1:{closed_port()}",
        COUNSEL_GRPC_DEADLINE_SECONDS="5",
    )
    output = result.stderr + result.stdout
    assert result.returncode == 1 and "Traceback" not in output
    (line,) = output.splitlines()
    assert "UNAVAILABLE" in line, line


def test_a_bad_setting_is_one_line_and_exit_2() -> None:
    result = run_counsel("ledger", "verify", COUNSEL_ENV="prod")  # prod without COUNSEL_SECRET_KEY
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("counsel ledger: ")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert paint("failed", RED, Terminal()) == "\033[31mfailed\033[0m"
    assert paint("failed", RED, io.StringIO()) == "failed"  # a pipe, a file, CI's capture
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_enabled(Terminal()) and paint("failed", RED, Terminal()) == "failed"
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: only a non-empty value turns colour off
    assert colour_enabled(Terminal())


def test_the_cli_and_the_local_stack_write_no_escape_codes_of_their_own() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "deploy"
    for path in root.rglob("*.py"):
        if path.name != "terminal.py":
            assert "\\033[" not in path.read_text(encoding="utf-8"), (
                f"{path}: colour through deploy/terminal.py"
            )
