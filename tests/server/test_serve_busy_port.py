"""`serve` on a port another process holds: one error line, exit 2, nothing left behind."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import Run, assert_one_line_error


def test_serve_on_a_busy_port_fails_cleanly_and_creates_no_file(tmp_path: Path, run: Run) -> None:
    work = tmp_path / "empty"
    work.mkdir()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        proc = run("serve", "--port", str(port), cwd=work, timeout=60)
    assert_one_line_error(proc)
    assert str(port) in proc.stderr
    assert sorted(p.name for p in work.iterdir()) == []
