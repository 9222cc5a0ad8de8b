"""`list` from the cached parse (portreg.fastrows) against the model's rows and json.dumps."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from portreg import fastrows, records, store
from tests.conftest import portreg_cmd

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "ports.toml"

VARIED = """
[registry]
project = "t"

[services.a]
ports = {development = "TBD", qa = 5, staging = 53001}
health_check = "curl localhost:{port}/h"

[services.b]
name = "B \\"quoted\\" é 日本"
status = "reserved"
purpose = "later"
protocol = "http"
transport = "udp"
notes = "tab\\there"
health_check = "no port here"

[services.c]
name = "C"
ports = {production = 1, development = 65535}
health_check = "x {port} y {port}"

[services."日本-api"]
ports = {zz = "TBD"}
"""


@pytest.mark.parametrize("text", [REPO_REGISTRY.read_text(), VARIED, '[registry]\nproject = "e"\n'])
@pytest.mark.parametrize("environment", [None, "development", "qa", "nowhere"])
def test_rows_and_json_are_the_models(text: str, environment: str | None) -> None:
    data = tomllib.loads(text)
    expected = records.service_rows(store.loads(text), environment)
    rows = fastrows.service_rows(data, environment)
    assert rows == expected
    assert "".join(fastrows.json_chunks(rows)) == json.dumps(expected, indent=2) + "\n"


POLICIES = ["", "[policy]\nrange = [100, 200]\navoid = [150]\n", "[policy]\nstep = 2\n"]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("port", [1, 22, 100, 150, 200, 201, 5, 53001, 54999, 55000, 65535])
def test_check_facts_are_the_models(policy: str, port: int) -> None:
    from portreg.policy import POLICY_CODES, judge

    text = VARIED.replace("[services.a]", policy + "\n[services.a]")
    data = tomllib.loads(text)
    registry = store.loads(text)
    expected = [(p.code, str(p)) for p in judge(registry, port).problems if p.code in POLICY_CODES]
    assert fastrows.policy_problems(data, port) == expected
    holders = [
        {"service": s.id, "name": s.name, "environment": e, "status": s.status}
        for s, e in registry.holders(port)
    ]
    assert fastrows.holders(data, port) == holders


def test_check_from_the_cache_and_from_the_file_print_the_same(tmp_path: Path) -> None:
    path = tmp_path / "ports.toml"
    path.write_text(VARIED.replace("[services.a]", POLICIES[1] + "\n[services.a]"))
    env = {"PORTREG_REGISTRY": str(path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    argv = [*portreg_cmd(), "check", "150", "53001", "5", "--json"]
    outs = [subprocess.run(argv, env=env, capture_output=True, text=True, check=False)]
    outs.append(subprocess.run(argv, env=env, capture_output=True, text=True, check=False))
    assert list((tmp_path / "cache" / "portreg").iterdir())
    assert outs[0].returncode == outs[1].returncode == 1
    assert outs[0].stdout == outs[1].stdout
    first = json.loads(outs[0].stdout)
    assert [c["problems"] for c in first][:2] == [
        ["port 150 is a standard port on the avoid list"],
        ["port 53001 is outside the range 100-200"],
    ]
    assert first[2]["registered"][0]["service"] == "a"


def test_list_from_the_cache_and_from_the_file_print_the_same(tmp_path: Path) -> None:
    path = tmp_path / "ports.toml"
    path.write_text(VARIED)
    env = {"PORTREG_REGISTRY": str(path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    argv = [*portreg_cmd(), "list", "--json"]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)

    outs = [run(), run()]
    assert [o.returncode for o in outs] == [0, 0]
    assert list((tmp_path / "cache" / "portreg").iterdir())  # the second came from the cache
    rows = records.service_rows(store.loads(VARIED))
    assert outs[0].stdout == outs[1].stdout == json.dumps(rows, indent=2) + "\n"
    # A file that does not read never reaches the cache, so the next list still refuses it.
    path.write_text(VARIED.replace('status = "reserved"', 'status = "bogus"'))
    for _ in range(2):
        bad = run()
        assert bad.returncode != 0 and "unknown status" in bad.stderr


NOT_PLAIN = [
    "[services.kong]\nports = {development = 53000}\n"
    "[services.kong.port.https]\nports = {development = 53001}\n",
    '[services.r]\nports = {development = "53000-53009"}\n',
    '[services.d]\ntransport = "tcp+udp"\nports = {development = 53000}\n',
]


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_named_ports_ranges_and_two_transports_take_the_model(text: str, tmp_path: Path) -> None:
    assert not fastrows.plain(tomllib.loads(text))
    assert fastrows.plain(tomllib.loads(VARIED))
    path = tmp_path / "ports.toml"
    path.write_text(text)
    env = {"PORTREG_REGISTRY": str(path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    argv = [*portreg_cmd(), "list", "--json"]
    for _ in range(2):  # the second with the parse cached
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == records.service_rows(store.loads(text))
