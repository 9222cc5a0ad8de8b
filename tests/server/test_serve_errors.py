"""`serve` and `token` with a database they cannot use: one line and exit 2, no server, no token."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Run, assert_one_line_error
from tests.server.conftest import free_port


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+asyncpg://postgres:secret@127.0.0.1:{dead}/x", "cannot use the database"),
        ("mysql://root@127.0.0.1:3306/test", "mysql:// is not supported"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql:// is not supported"),
    ],
)
@pytest.mark.parametrize(
    "command", [("serve", "--port", "{free}"), ("token", "create", "--scope", "write")]
)
def test_unusable_database_is_one_line(
    run: Run, tmp_path: Path, url: str, says: str, command: tuple[str, ...]
) -> None:
    dead, free = free_port(), free_port()
    args = [a.format(free=free) for a in command]
    # from a settings file named with --env-file, as a user would write it
    (tmp_path / "portreg.env").write_text(f"PORTREG_DATABASE_URL={url.format(dead=dead)}\n")
    proc = run(*args, "--env-file", "portreg.env", timeout=30)
    assert_one_line_error(proc)
    assert says in proc.stderr
    assert "secret" not in proc.stderr  # the password is never shown
    assert proc.stdout == ""  # no banner, no token
