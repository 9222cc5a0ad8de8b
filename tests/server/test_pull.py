"""`pull` into an existing ports.toml loses nothing local the server does not hold."""

from __future__ import annotations

from pathlib import Path

from portreg import store
from tests.conftest import Run
from tests.server.conftest import StartServer, http


def test_pull_keeps_comments_sync_settings_and_the_local_change_log(
    start_server: StartServer, run: Run, tmp_path: Path
) -> None:
    server = start_server()
    token = server.token()
    local = tmp_path / "proj"
    local.mkdir()
    assert run("init", cwd=local).returncode == 0
    assert run("add", "Cache", "--port", "53500", cwd=local).returncode == 0
    path = local / "ports.toml"
    path.write_text(
        "# ask #platform before editing\n"
        + path.read_text()
        + '\n[sync]\npage = "docs/PORTS.md"\nexclude = ["tests/"]\n'
    )
    local_log = store.load(path).changes
    assert run("push", server.url, cwd=local, env={"PORTREG_TOKEN": token}).returncode == 0
    status, body = http("POST", server.api + "/assignments", {"service": "search"}, token=token)
    assert status == 201, body

    pulled = run("pull", server.url, cwd=local)
    assert pulled.returncode == 0, pulled.stderr
    text = path.read_text()
    assert text.startswith("# ask #platform before editing\n")
    after = store.load(path)
    assert (after.page, after.exclude) == ("docs/PORTS.md", ("tests/",))
    assert after.services["search"].ports == {"development": body["port"]}
    assert after.services["cache"].ports == {"development": 53500}
    assert set(local_log) <= set(after.changes)  # the local history survives
    assert any(c.service == "search" and c.action == "assign" for c in after.changes)
    assert [c.at for c in after.changes] == sorted(c.at for c in after.changes)
    # Pulling again changes nothing.
    assert run("pull", server.url, cwd=local).returncode == 0
    assert path.read_text() == text
