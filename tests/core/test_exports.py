"""`render --format devcontainer|caddy`: every development port forwarded, http ones proxied."""

from __future__ import annotations

import json
from pathlib import Path

from portreg import exports, store
from portreg.model import Registry, Service
from tests.conftest import Run


def _registry() -> Registry:
    return Registry(
        services={
            "api": Service("api", "API Server", {"development": 54000}, protocol="http"),
            "db": Service("db", "PostgreSQL", {"development": 53010, "staging": 53011}, "postgres"),
            "web": Service("web", "Web UI", {"development": 53020}, protocol="http"),
        }
    )


def test_devcontainer_forwards_every_development_port_with_its_label(
    tmp_path: Path, run: Run
) -> None:
    store.create(tmp_path / "ports.toml", _registry())
    proc = run("render", "--format", "devcontainer")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["forwardPorts"] == [53010, 53020, 54000]
    assert doc["portsAttributes"]["53010"] == {
        "label": "PostgreSQL",
        "requireLocalPort": True,
        "onAutoForward": "silent",
    }
    assert {k: v["label"] for k, v in doc["portsAttributes"].items()} == {
        "53010": "PostgreSQL",
        "53020": "Web UI",
        "54000": "API Server",
    }


def test_caddyfile_proxies_http_services_and_names_the_others() -> None:
    text = exports.caddyfile(_registry())
    assert "web.localhost {\n\treverse_proxy localhost:53020\n}\n" in text
    assert "api.localhost {\n\treverse_proxy localhost:54000\n}\n" in text
    assert "db." not in text
    assert "# not HTTP, not proxied: db (postgres on 53010)" in text


def test_caddy_domain_is_an_option(tmp_path: Path, run: Run) -> None:
    store.create(tmp_path / "ports.toml", _registry())
    proc = run("render", "--format", "caddy", "--domain", "dev.test")
    assert proc.returncode == 0, proc.stderr
    assert "api.dev.test {\n\treverse_proxy localhost:54000\n}" in proc.stdout
