"""The kernel's ephemeral ports: parsing, the setting `protect` prints, and `protect --apply`
inside a network namespace the test creates (the setting is per namespace)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from portreg.errors import PortregError
from portreg.host import kernel
from portreg.host.kernel import KernelPorts, parse_port_list
from portreg.policy import format_port_list
from tests.conftest import Run, assert_one_line_error, netns, portreg_cmd

from ._support import codes, service, today, write_registry

RESERVED = "/proc/sys/net/ipv4/ip_local_reserved_ports"
needs_root_netns = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2"
)


@pytest.mark.parametrize(
    ("text", "ports"),
    [
        ("", set()),
        ("\n", set()),
        ("54000", {54000}),
        ("53000-53002,54000\n", {53000, 53001, 53002, 54000}),
        (" 5432 , 6379 ,", {5432, 6379}),
    ],
)
def test_parse_port_list(text: str, ports: set[int]) -> None:
    assert parse_port_list(text) == ports


@pytest.mark.parametrize("bad", ["abc", "5-3", "70000", "1-2-3"])
def test_parse_port_list_rejects_garbage(bad: str) -> None:
    with pytest.raises(PortregError):
        parse_port_list(bad)


def test_format_is_compact_and_round_trips() -> None:
    ports = {5432, 6379, 54000, 54001, 54002, 54004, 60999}
    text = format_port_list(ports)
    assert text == "5432,6379,54000-54002,54004,60999"
    assert parse_port_list(text) == ports
    assert format_port_list([]) == ""


def test_at_risk_and_protected() -> None:
    k = KernelPorts((32768, 60999), frozenset({54001}))
    assert k.at_risk([5432, 54000, 54001, 61000, 32768]) == [32768, 54000]
    assert kernel.protected({40000}, {54000, 54001}) == {40000, 54000, 54001}
    assert kernel.setting_line({54000, 54001, 5432}) == (
        "net.ipv4.ip_local_reserved_ports = 5432,54000-54001"
    )


def test_read_this_hosts_settings() -> None:
    k = kernel.read()
    lo, hi = k.ephemeral
    assert 0 < lo <= hi <= 65535
    assert k.reserved == parse_port_list(Path(RESERVED).read_text())


def test_protect_prints_the_merged_setting(run: Run, tmp_path: Path) -> None:
    write_registry(tmp_path, {
        "api-server": service("API Server", 54000, protocol="http"),
        "sse-worker": service("SSE Worker", 54001, status="planned"),
        "monitoring": service("Monitoring", 54002, status="reserved"),
        "api-stage": service("API Staging", 54010, env="staging"),
        "redis": service("Redis", None),
    })  # fmt: skip
    proc = run("protect")
    assert proc.returncode == 0, proc.stderr
    before = parse_port_list(Path(RESERVED).read_text())
    want = kernel.setting_line(before | {54000, 54001, 54002, 54010})
    assert proc.stdout.strip() == want
    data = json.loads(run("protect", "--json").stdout)
    assert data["registered"] == [54000, 54001, 54002, 54010]
    assert data["applied"] is False
    assert parse_port_list(Path(RESERVED).read_text()) == before  # printing changes nothing


def test_protect_without_registry_is_one_error_line(run: Run) -> None:
    assert_one_line_error(run("protect"))


def _in_ns(ns: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True,
                          timeout=60, check=False, env=env)  # fmt: skip


@needs_root_netns
def test_protect_apply_inside_a_network_namespace(tmp_path: Path) -> None:
    registry = write_registry(tmp_path, {
        "api-server": service("API Server", 54000, protocol="http"),
        "sse-worker": service("SSE Worker", 54001, status="planned"),
        "monitoring": service("Monitoring", 54002, status="reserved"),
        "postgresql": service("PostgreSQL", 5432, forced=True),
    }, last_audit=today())  # fmt: skip
    host_before = Path(RESERVED).read_text()
    with netns() as ns:
        # Something the namespace reserves already must survive.
        pre = _in_ns(ns, "sh", "-c", f"echo 40000-40002 > {RESERVED}")
        assert pre.returncode == 0, pre.stderr
        audit = _in_ns(ns, *portreg_cmd(), "--registry", str(registry), "audit", "--json")
        at_risk = codes(audit)["ephemeral-overlap"]
        assert "54000-54002" in at_risk[0]["message"]

        applied = _in_ns(ns, *portreg_cmd(), "--registry", str(registry), "protect", "--apply")
        assert applied.returncode == 0, applied.stderr
        want = "5432,40000-40002,54000-54002"
        assert applied.stdout.splitlines()[0] == f"net.ipv4.ip_local_reserved_ports = {want}"
        assert _in_ns(ns, "cat", RESERVED).stdout.strip() == want

        audit = _in_ns(ns, *portreg_cmd(), "--registry", str(registry), "audit", "--json")
        assert "ephemeral-overlap" not in codes(audit)
        # Applying again changes nothing.
        again = _in_ns(ns, *portreg_cmd(), "--registry", str(registry), "protect", "--apply",
                       "--json")  # fmt: skip
        assert json.loads(again.stdout)["added"] == []
        assert _in_ns(ns, "cat", RESERVED).stdout.strip() == want
    assert Path(RESERVED).read_text() == host_before  # the host's own setting is untouched


@needs_root_netns
def test_protect_apply_as_non_root_is_one_error_line(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(shared, 0o755)
    registry = write_registry(shared, {"api-server": service("API Server", 54000)})
    os.chmod(registry, 0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *portreg_cmd(),
         "--registry", str(registry), "protect", "--apply"],
        capture_output=True, text=True, timeout=60, check=False, env=env, cwd=shared,
    )  # fmt: skip
    if "Permission denied" in proc.stderr and "error:" not in proc.stderr:
        pytest.skip("the virtualenv is not readable by nobody")
    assert_one_line_error(proc)
    assert "root" in proc.stderr
