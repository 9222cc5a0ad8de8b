"""A service's host survives a read of ports.toml: the reader's plain-service fast path dropped
`host`, so every re-read (the next `add`, `list`, a client's pull of the server's export) put
the service on the default host, and two hosts' same port became a duplicate on one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from portreg import store
from tests.conftest import portreg_cmd


def test_the_reader_keeps_a_plain_services_host() -> None:
    doc = '[services.api]\nname = "api"\nhost = "nas"\nports = {development = 53600}\n'
    assert store.loads(doc, source="t").services["api"].host == "nas"


def test_the_same_port_on_two_hosts_stays_on_two_hosts(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*portreg_cmd(), *args], cwd=tmp_path, capture_output=True, text=True, check=False
        )

    assert cli("init", "--project", "t").returncode == 0
    assert cli("add", "a1", "--port", "53600", "--host", "hx").returncode == 0
    assert cli("add", "a2", "--port", "53600", "--host", "hy").returncode == 0
    again = cli("add", "a3", "--port", "53600", "--host", "hx")
    assert again.returncode == 2, again.stderr
    rows = json.loads(cli("list", "--json").stdout)
    assert {(r["service"], r["host"]) for r in rows} == {("a1", "hx"), ("a2", "hy")}
    on_hx = json.loads(cli("list", "--json", "--host", "hx").stdout)
    assert [r["service"] for r in on_hx] == ["a1"]
