"""Leases with real processes: 100 concurrent `portreg run`s, SIGKILL, the pytest plugin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from portreg.model import Policy

PORTREG = str(Path(sys.executable).with_name("portreg"))

BIND = textwrap.dedent(
    """
    import os, socket
    port = int(os.environ["PORT"])
    assert os.environ["PORTREG_PORT"] == str(port)
    held = []
    for fam, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, kind)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
            held.append(s)
    print(port, flush=True)
    import time; time.sleep(1.0)
    """
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PORTREG_LEASE_COOLDOWN": "1"}


def _leases(env: dict[str, str], cwd: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [PORTREG, "leases", "--json"], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    result: list[dict[str, object]] = json.loads(out.stdout)
    return result


def test_100_concurrent_runs_get_distinct_bindable_ports(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "ports.toml").write_text(
        '[registry]\nproject = "p"\n\n[policy]\nrange = [53000, 54999]\n'
        "avoid = [20003]\nlease_range = [20000, 20400]\n\n"
        '[services.api]\nname = "API"\nports = { development = 20001 }\n'
    )
    procs = [
        subprocess.Popen(
            [PORTREG, "run", "--", sys.executable, "-c", BIND],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(100)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 100, [err for _, err in results if err][:3]
    ports = [int(out) for out, _ in results]
    assert len(set(ports)) == 100
    assert all(20000 <= port <= 20400 for port in ports)
    assert 20001 not in ports and 20003 not in ports


def test_exit_status_passes_through(env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [PORTREG, "run", "--", sys.executable, "-c", "import sys; sys.exit(7)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (7, "")
    killed = subprocess.run(
        [PORTREG, "run", "--", sys.executable, "-c", "import os; os.kill(os.getpid(), 15)"],
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert killed.returncode == -signal.SIGTERM


def test_sigkilled_holder_gives_its_lease_back(env: dict[str, str], tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [PORTREG, "run", "--name", "victim", "--", sys.executable, "-c", BIND.replace("1.0", "60")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    port = int(holder.stdout.readline())
    (live,) = _leases(env, tmp_path)
    assert (live["port"], live["pid"], live["state"]) == (port, holder.pid, "active")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    (cooling,) = _leases(env, tmp_path)
    assert (cooling["port"], cooling["state"]) == (port, "cooling")
    time.sleep(1.2)
    assert _leases(env, tmp_path) == []


def test_a_cooling_port_is_not_lent_again(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "PORTREG_LEASE_COOLDOWN": "60"}
    (tmp_path / "ports.toml").write_text(
        '[registry]\nproject = "p"\n\n[policy]\nlease_range = [20500, 20501]\n'
    )
    run = [PORTREG, "run", "--", sys.executable, "-c", "import os; print(os.environ['PORT'])"]
    first = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    second = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    third = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert {first.stdout.strip(), second.stdout.strip()} == {"20500", "20501"}
    assert third.returncode == 2 and third.stderr.startswith("error: no free port to lend")


def test_lease_ttl_is_listed(env: dict[str, str], tmp_path: Path) -> None:
    out = subprocess.run(
        [PORTREG, "lease", "--ttl", "30", "--name", "db", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    lease = json.loads(out.stdout)
    lo, hi = Policy().lease_range
    assert lo <= lease["port"] <= hi and lease["name"] == "db" and lease["pid"] is None
    assert [x["port"] for x in _leases(env, tmp_path)] == [lease["port"]]


def test_plugin_under_xdist(env: dict[str, str], tmp_path: Path) -> None:
    body = "\n".join(
        f"def test_{i}(portreg_port):\n"
        "    import socket\n"
        "    s = socket.socket()\n"
        "    s.bind(('127.0.0.1', portreg_port))\n"
        "    s.listen()\n"
        "    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "    u.bind(('127.0.0.1', portreg_port))\n"
        f"    print('PORT', portreg_port)\n"
        for i in range(40)
    )
    body += "\n\ndef test_factory(portreg_ports):\n    a = portreg_ports(3)\n"
    body += "    b = portreg_ports()\n    assert len(set(a + b)) == 4\n"
    (tmp_path / "test_many.py").write_text(body)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "4", "-q", "-p", "no:cacheprovider", "-s"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "41 passed" in done.stdout
