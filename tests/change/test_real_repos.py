"""What real repositories publish (issue 10): several ports per service, ranges, TCP and UDP,
variables on either side, and the change procedure on every place import recorded."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from portreg.importers._result import Imported
from portreg.ops import Stamp
from tests.conftest import Run, assert_one_line_error

KONG = """\
services:
  kong:
    image: kong:3.6
    ports:
      - "${KONG_HTTP_PORT:-8000}:8000/tcp"
      - "${KONG_HTTPS_PORT:-8443}:8443/tcp"
  db:
    image: mariadb:11
    ports:
      - "${SQL_PORT:-127.0.0.1:13306}:3306"
  web:
    image: nginx
    ports:
      - published: "${WEBP:-8083}"
        target: 80
"""
KONG_ENV = "KONG_HTTP_PORT=8000\nKONG_HTTPS_PORT=8443\n"
TURN = """\
services:
  coturn:
    image: coturn/coturn
    ports:
      - "3478:3478"
      - "3478:3478/udp"
      - "30000-30009:30000-30009"
"""
README = """\
# Stack

| Service | Port | Notes |
|---------|------|-------|
| Kong | 8000 / 8443 | gateway |
| Database | 13306 | mariadb |
"""


def _rows(run: Run, cwd: Path) -> list[dict[str, object]]:
    proc = run("list", "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, object]] = json.loads(proc.stdout)
    return rows


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_service_key_prefix_never_moves_the_wrong_port(tmp_path: Path, run: Run) -> None:
    """`KONG_HTTP_PORT` / `KONG_HTTPS_PORT`: moving https rewrites https's key, compose default
    and table cell, nothing else; sync then changes nothing."""
    p = _project(
        tmp_path,
        {"docker-compose.yml": KONG, ".env.example": KONG_ENV, "README.md": README},
    )
    assert run("import", "docker-compose.yml", ".env.example", cwd=p).returncode == 0
    named = {(r["service"], r["port_name"]): r["port"] for r in _rows(run, p)}
    assert named[("kong", "http")] == 8000 and named[("kong", "https")] == 8443
    ambiguous = run("move", "kong", "53100", "--reason", "r", cwd=p)
    assert_one_line_error(ambiguous)
    assert "kong:http" in ambiguous.stderr and "kong:https" in ambiguous.stderr
    before = {n: (p / n).read_text() for n in ("docker-compose.yml", ".env.example", "README.md")}
    moved = run("move", "kong:https", "53101", "--reason", "tls port", cwd=p)
    assert moved.returncode == 0, moved.stderr
    assert (p / ".env.example").read_text() == "KONG_HTTP_PORT=8000\nKONG_HTTPS_PORT=53101\n"
    compose = (p / "docker-compose.yml").read_text()
    assert compose == before["docker-compose.yml"].replace(":-8443}", ":-53101}")
    assert (p / "README.md").read_text() == before["README.md"].replace("8443", "53101")
    check = run("sync", "--check", cwd=p)
    assert check.returncode == 0, check.stdout + check.stderr
    synced = run("sync", cwd=p)
    assert synced.returncode == 0
    assert (p / ".env.example").read_text().count("8000") == 1
    assert (p / "docker-compose.yml").read_text() == compose


@pytest.mark.parametrize(
    ("ref", "old", "new"),
    [("db", "13306", "53306"), ("web", "8083", "53083")],
)
def test_moves_defaults_with_an_address_and_long_syntax_variables(
    tmp_path: Path, run: Run, ref: str, old: str, new: str
) -> None:
    p = _project(tmp_path, {"docker-compose.yml": KONG})
    assert run("import", "docker-compose.yml", cwd=p).returncode == 0
    before = (p / "docker-compose.yml").read_text()
    assert run("move", ref, new, "--reason", "r", cwd=p).returncode == 0
    after = (p / "docker-compose.yml").read_text()
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 1 and changed[0][1] == changed[0][0].replace(old, new)
    assert run("sync", "--check", cwd=p).returncode == 0


def test_a_range_occupies_every_port_and_tcp_udp_is_one_registration(
    tmp_path: Path, run: Run
) -> None:
    p = _project(tmp_path, {"docker-compose.yml": TURN})
    proc = run("import", "docker-compose.yml", cwd=p)
    assert proc.returncode == 0, proc.stderr
    assert "clash" not in proc.stderr
    rows = _rows(run, p)
    recorded = {
        (port, r["transport"])
        for r in rows
        for port in range(int(r["port"]), int(r["port_end"] or r["port"]) + 1)  # type: ignore[call-overload]
    }
    assert {(3478, "tcp"), (3478, "udp")} <= recorded
    assert {(port, "tcp") for port in range(30000, 30010)} <= recorded
    ranged = [r for r in rows if r["port_end"] is not None]
    assert [(r["port"], r["port_end"]) for r in ranged] == [(30000, 30009)]
    check = run("check", "30005", cwd=p)
    assert check.returncode == 1 and "coturn" in check.stdout
    refused = run("add", "x", "--port", "30007", cwd=p)
    assert refused.returncode == 2 and "coturn" in refused.stderr
    # assign never lands in the range, even when the policy's range covers it
    (p / "ports.toml").write_text(
        (p / "ports.toml").read_text().replace("range = [53000, 54999]", "range = [30000, 30020]")
    )
    got = run("assign", "fresh", cwd=p)
    assert got.returncode == 0, got.stderr
    assert int(got.stdout) == 30010
    # uniqueness is per transport: UDP 30007 is free, but the number's TCP owner is named
    other = run("add", "x", "--port", "30007", "--transport", "udp", cwd=p)
    assert other.returncode == 0, other.stderr
    assert "also registered to coturn:" in other.stderr and "(tcp)" in other.stderr
    assert run("release", "x", cwd=p).returncode == 0
    # TCP and UDP on one number move together, a range moves whole
    (p / "ports.toml").write_text(
        (p / "ports.toml").read_text().replace("range = [30000, 30020]", "range = [53000, 54999]")
    )
    turn = next(r for r in rows if r["port"] == 3478)
    ref = f"coturn:{turn['port_name']}" if turn["port_name"] else "coturn"
    assert run("move", ref, "53478", "--reason", "r", cwd=p).returncode == 0
    text = (p / "docker-compose.yml").read_text()
    assert '"53478:3478"' in text and '"53478:3478/udp"' in text
    relay = f"coturn:{ranged[0]['port_name']}"
    assert run("move", relay, "53600", "--reason", "r", cwd=p).returncode == 0
    assert '"53600-53609:30000-30009"' in (p / "docker-compose.yml").read_text()
    # overlapping its own old ports is no clash
    assert run("move", relay, "53605", "--reason", "r", cwd=p).returncode == 0
    assert run("add", "blocker", "--port", "53620", cwd=p).returncode == 0
    before = (p / "docker-compose.yml").read_text()
    clash = run("move", relay, "53615", "--reason", "r", cwd=p)
    assert_one_line_error(clash)
    assert "blocker" in clash.stderr and "53620" in clash.stderr
    assert (p / "docker-compose.yml").read_text() == before
    assert run("sync", "--check", cwd=p).returncode == 0


def test_same_files_in_any_order_give_the_same_registry(tmp_path: Path, run: Run) -> None:
    files = {
        "docker-compose.yml": KONG,
        "docker-compose.override.yml": (
            "services:\n  kong:\n    ports:\n      - '8100:8100'\n"
            "  admin:\n    ports:\n      - '8083:80'\n"
        ),
        ".env.example": KONG_ENV,
    }
    results = []
    for i, order in enumerate((list(files), list(reversed(files)))):
        p = _project(tmp_path / str(i), files)
        proc = run("import", *order, cwd=p)
        results.append(
            (
                proc.returncode,
                sorted(json.dumps(r, sort_keys=True) for r in _rows(run, p)),
                sorted(proc.stderr.splitlines()),
            )
        )
    assert results[0] == results[1]
    assert results[0][0] == 1  # admin and web both publish 8083: one owner, one clash line


def test_a_recorded_place_that_cannot_be_rewritten_refuses_the_move(
    tmp_path: Path, run: Run
) -> None:
    p = _project(tmp_path, {"docker-compose.yml": TURN})
    assert run("import", "docker-compose.yml", cwd=p).returncode == 0
    # Someone replaces the literal by a variable the repository does not define.
    broken = TURN.replace('"3478:3478"\n', '"${TURN_PORT}:3478"\n')
    (p / "docker-compose.yml").write_text(broken)
    registry = (p / "ports.toml").read_text()
    ref = next(f"{r['service']}:{r['port_name']}" for r in _rows(run, p) if r["port"] == 3478)
    # The UDP line still carries the number: the registration's entry is found and moved.
    ok = run("move", ref, "53478", "--reason", "r", cwd=p)
    assert ok.returncode == 0, ok.stderr
    (p / "docker-compose.yml").write_text(TURN.replace("30000-30009:", "${RELAY}:"))
    (p / "ports.toml").write_text(registry)
    relay = next(
        f"{r['service']}:{r['port_name']}" for r in _rows(run, p) if r["port_end"] is not None
    )
    before = (p / "docker-compose.yml").read_text()
    refused = run("move", relay, "53500", "--reason", "r", cwd=p)
    assert_one_line_error(refused)
    assert "docker-compose.yml:coturn" in refused.stderr
    assert (p / "docker-compose.yml").read_text() == before
    assert (p / "ports.toml").read_text() == registry


@pytest.mark.parametrize(
    ("entry", "env_name", "env_text"),
    [
        # getsentry/self-hosted: a `.env` key that does not say PORT, `$VAR` without braces
        ('"$SENTRY_BIND:80/tcp"', ".env", "# IP:PORT or a port\nSENTRY_BIND=9000\n"),
        # jitsi's web: no default, the value from `env.example` (no dot)
        ("'${HTTP_PORT}:80'", "env.example", "HTTP_PORT=9000\n"),
    ],
)
def test_a_variable_with_no_default_moves_in_the_env_file(
    tmp_path: Path, run: Run, entry: str, env_name: str, env_text: str
) -> None:
    """The compose line carries no digits, so it is no place of the port: `move` rewrites the
    env line alone (it used to refuse: "recorded in docker-compose.yml:nginx but not found
    there"), `sync` then has nothing to do and a fresh import finds the new port."""
    compose = f"services:\n  nginx:\n    ports:\n      - {entry}\n"
    p = _project(tmp_path, {"docker-compose.yml": compose, env_name: env_text})
    assert run("import", "docker-compose.yml", env_name, cwd=p).returncode == 0
    moved = run("move", "nginx", "53100", "--reason", "r", cwd=p)
    assert moved.returncode == 0, moved.stderr
    assert (p / env_name).read_text() == env_text.replace("=9000", "=53100")
    assert (p / "docker-compose.yml").read_text() == compose
    assert run("sync", "--check", cwd=p).returncode == 0
    (p / "ports.toml").unlink()
    assert run("import", "docker-compose.yml", env_name, cwd=p).returncode == 0
    assert [r["port"] for r in _rows(run, p)] == [53100]


def test_jigasi_range_from_two_variables_moves_whole(tmp_path: Path) -> None:
    """jitsi's `${JIGASI_PORT_MIN}-${JIGASI_PORT_MAX}:…/udp` (values in `env.example`): the
    range moves, both keys shift by the same amount, and nothing else changes."""
    from portreg import importers, store
    from portreg.model import Registry
    from portreg.rewrite import plan

    p = tmp_path / "jitsi"
    shutil.copytree(CORPUS / "jitsi-meet", p)
    at = datetime(2026, 12, 2, 12, 0, 0)
    report = importers.merge(Registry(), _pieces(p), plan_stamp(at))
    store.create(p / "ports.toml", report.registry)
    before = (p / "env.example").read_text()
    plan.move(p / "ports.toml", "jigasi", 54100, "development", "r", "t", at, lambda _p: set())
    after = (p / "env.example").read_text()
    want = before.replace("JIGASI_PORT_MIN=20000", "JIGASI_PORT_MIN=54100")
    assert after == want.replace("JIGASI_PORT_MAX=20050", "JIGASI_PORT_MAX=54150")
    pending = plan.sync(p / "ports.toml", check=True)
    assert pending == []


def test_a_container_port_column_is_never_rewritten(tmp_path: Path, run: Run) -> None:
    """A homelab table (`| Service | Host Port | Container Port |`, eubertoETH/test's
    Portoverview.md): moving the compose service on 8000 rewrites no row's container port
    8000 (it used to write `| Paperless NGX | 8020 | 53100 |`)."""
    table = (
        "| Service | Host Port | Container Port |\n|---|---|---|\n"
        "| Paperless NGX | 8020 | 8000 |\n| Portainer | 8010, 9450 | 8000, 9443 |\n"
    )
    compose = "services:\n  focalboard:\n    ports:\n      - '8000:8000'\n"
    p = _project(tmp_path, {"docker-compose.yml": compose, "Ports.md": table})
    assert run("import", "docker-compose.yml", cwd=p).returncode == 0
    moved = run("move", "focalboard", "53100", "--reason", "r", cwd=p)
    assert moved.returncode == 0, moved.stderr
    assert (p / "Ports.md").read_text() == table
    assert run("sync", "--check", cwd=p).returncode == 0


def test_a_table_whose_first_column_is_the_port_moves(tmp_path: Path, run: Run) -> None:
    """mindovermiles262/portainer-configs: `| Port Number | Service |`. The row of the moved
    service changes (it used to stay while `sync --check` said in sync), no other row does."""
    p = tmp_path / "pc"
    shutil.copytree(CORPUS / "portainer-configs", p)
    before = (p / "README.md").read_text()
    assert run("init", cwd=p).returncode == 0
    assert run("add", "uptime-kuma", "--port", "31011", "--force", cwd=p).returncode == 0
    moved = run("move", "uptime-kuma", "53100", "--reason", "r", cwd=p)
    assert moved.returncode == 0, moved.stderr
    after = (p / "README.md").read_text()
    assert after == before.replace("| 31011       | Uptime", "| 53100       | Uptime")
    assert run("sync", "--check", cwd=p).returncode == 0


def test_moving_a_clash_owner_leaves_the_other_service_alone(tmp_path: Path, run: Run) -> None:
    """frappe_docker's overrides: `frontend` (compose.noproxy.yaml) and `traefik`
    (compose.traefik.yaml) both publish 80; import records frontend and names traefik's line.
    Moving frontend must not rewrite traefik's `80:80`."""
    traefik = "services:\n  traefik:\n    ports:\n      - 80:80\n"
    p = _project(
        tmp_path,
        {
            "compose.noproxy.yaml": "services:\n  frontend:\n    ports:\n      - 80:80\n",
            "compose.traefik.yaml": traefik,
        },
    )
    proc = run("import", "compose.noproxy.yaml", "compose.traefik.yaml", cwd=p)
    assert "compose.traefik.yaml:4" in proc.stderr
    assert run("move", "frontend", "53100", "--reason", "r", cwd=p).returncode == 0
    assert (p / "compose.traefik.yaml").read_text() == traefik


def test_a_page_row_on_a_shared_port_moves_with_its_service(tmp_path: Path, run: Run) -> None:
    """ansible-home-server's `_list.md` imported as the registry: Adguard, dnsmasq and Pihole
    all say 53. `move adguard` rewrites Adguard's row (it says "no other file carries the
    port", `sync --check` says in sync, and a fresh import finds 53 again)."""
    p = tmp_path / "ahs"
    shutil.copytree(CORPUS / "ansible-home-server", p)
    assert run("import", "_list.md", cwd=p).returncode == 0
    assert run("move", "adguard", "53100", "--reason", "r", cwd=p).returncode == 0
    row = next(line for line in (p / "_list.md").read_text().splitlines() if "Adguard" in line)
    assert "53100 - DNS" in row


def test_a_port_and_its_urls_in_one_env_file_are_one_registration(tmp_path: Path, run: Run) -> None:
    """`WEB_PORT=8080` (read by compose) and two URLs on localhost:8080 in the same
    `.env.example`: they used to clash with each other and with compose ("nothing recorded on
    8080", exit 1); now web owns 8080 and a move rewrites every one of them."""
    compose = 'services:\n  web:\n    ports:\n      - "${WEB_PORT:-8080}:80"\n'
    env = "WEB_PORT=8080\nPUBLIC_URL=http://localhost:8080\nAPP_URL=http://localhost:8080/app\n"
    p = _project(tmp_path, {"docker-compose.yml": compose, ".env.example": env})
    proc = run("import", "docker-compose.yml", ".env.example", cwd=p)
    assert proc.returncode == 0, proc.stderr
    assert [(r["service"], r["port"]) for r in _rows(run, p)] == [("web", 8080)]
    assert run("move", "web", "53100", "--reason", "r", cwd=p).returncode == 0
    assert (p / ".env.example").read_text() == env.replace("8080", "53100")
    assert (p / "docker-compose.yml").read_text() == compose.replace("8080", "53100")
    assert run("sync", "--check", cwd=p).returncode == 0


def test_dify_middleware_records_every_published_port(tmp_path: Path, run: Run) -> None:
    """langgenius/dify's middleware: `${EXPOSE_X_PORT:-p}:${X_PORT:-p}` with both keys in
    `middleware.env.example`, and URLs to `ssrf_proxy:3128`. Five published ports used to be
    lost to clashes with those keys; now each is its compose service's, the container-side
    keys and compose-network URLs are named as no host ports."""
    p = tmp_path / "dify"
    shutil.copytree(CORPUS / "dify-middleware", p)
    files = ["docker-compose.middleware.yaml", "middleware.env.example"]
    proc = run("import", *files, cwd=p)
    assert proc.returncode == 0, proc.stderr
    assert "nothing recorded" not in proc.stderr
    recorded = {r["port"] for r in _rows(run, p)}
    expected = json.loads((p / "expected.json").read_text())
    assert {e["port"] for e in expected["published"]} <= recorded
    for key in ("SANDBOX_PORT", "SSRF_HTTP_PORT", "PLUGIN_DEBUGGING_PORT"):
        assert f"{key} is the container's side of a compose entry" in proc.stderr
    assert "SANDBOX_HTTP_PROXY=http://ssrf_proxy:3128 names a compose service" in proc.stderr
    registry = (p / "ports.toml").read_text()
    assert "$SSRF_HTTP_PORT" not in registry and "$SANDBOX_PORT" not in registry


def test_only_the_host_part_of_an_entry_carries_its_port(tmp_path: Path, run: Run) -> None:
    """`${BIND:-0.0.0.0}:${WEB_PORT:-8080}:${APP_PORT:-3000}`: WEB_PORT carries the host
    port; BIND is an address and APP_PORT the container's port, so neither is a place of
    web's port (APP_PORT=3000 used to become a service `app` whose move rewrote web's
    container port)."""
    entry = '"${BIND:-0.0.0.0}:${WEB_PORT:-8080}:${APP_PORT:-3000}"'
    compose = f"services:\n  web:\n    ports:\n      - {entry}\n"
    env = "BIND=0.0.0.0\nWEB_PORT=8080\nAPP_PORT=3000\n"
    p = _project(tmp_path, {"docker-compose.yml": compose, ".env.example": env})
    proc = run("import", "docker-compose.yml", ".env.example", cwd=p)
    assert proc.returncode == 0, proc.stderr
    assert [(r["service"], r["port"]) for r in _rows(run, p)] == [("web", 8080)]
    assert "APP_PORT is the container's side" in proc.stderr
    assert '"$BIND"' not in (p / "ports.toml").read_text()
    assert run("move", "web", "53100", "--reason", "r", cwd=p).returncode == 0
    assert (p / ".env.example").read_text() == env.replace("8080", "53100")


def test_moving_a_published_port_leaves_container_side_keys_alone(tmp_path: Path, run: Run) -> None:
    p = tmp_path / "dify"
    shutil.copytree(CORPUS / "dify-middleware", p)
    run("import", "docker-compose.middleware.yaml", "middleware.env.example", cwd=p)
    ref = next(f"{r['service']}:{r['port_name']}" for r in _rows(run, p) if r["port"] == 3128)
    assert run("move", ref, "53100", "--reason", "r", cwd=p).returncode == 0
    env = (p / "middleware.env.example").read_text()
    assert "EXPOSE_SSRF_PROXY_PORT=53100" in env
    assert "SSRF_HTTP_PORT=3128" in env and "http://ssrf_proxy:3128" in env


# --- every corpus project: move each recorded port, then sync is clean -----------------------

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
PROJECTS = sorted(p.name for p in CORPUS.iterdir() if (p / "SOURCE.toml").is_file())


def _registrations(registry_path: Path) -> list[tuple[str, str, int, int]]:
    from portreg import store

    reg = store.load(registry_path)
    return [(s.id, env, port, s.width) for s in reg.services.values() for env, port in s.assigned()]


@pytest.mark.parametrize("slug", PROJECTS)
def test_move_and_sync_on_every_corpus_project(slug: str, tmp_path: Path) -> None:
    """For each recorded port of a real project: `move` to a free port, then `sync` has
    nothing to do, only that port's digits changed in each rewritten line, and importing the
    moved files again finds the new port."""
    from portreg import importers, store
    from portreg.model import Registry
    from portreg.rewrite import plan

    base = tmp_path / "base"
    shutil.copytree(CORPUS / slug, base)
    at = datetime(2026, 12, 2, 12, 0, 0)
    report = importers.merge(Registry(), _pieces(base), plan_stamp(at))
    store.create(base / "ports.toml", report.registry)
    regs = _registrations(base / "ports.toml")  # none: host networking, a page, …
    target = 54100
    for sid, env, old, width in regs:
        work = tmp_path / f"w-{re.sub(r'[^a-z0-9]+', '-', sid)}-{env}"
        shutil.copytree(base, work)
        before = {p.name: p.read_text() for p in work.iterdir() if p.is_file()}
        try:
            report_m = plan.move(
                work / "ports.toml", sid, target, env, "corpus", "test", at, lambda _p: set()
            )
        except Exception as exc:  # a refusal must be one line, every file untouched
            from portreg.errors import PortregError

            assert isinstance(exc, PortregError), exc
            assert "\n" not in str(exc)
            after = {p.name: p.read_text() for p in work.iterdir() if p.is_file()}
            assert after == before
            continue
        for f in report_m.files:
            for _line, old_text, new_text in f.changed_lines():
                shifted = _shift(old_text, old, target, width)
                assert new_text == shifted, (f.path, old_text, new_text)
        pending = plan.sync(work / "ports.toml", check=True)
        assert pending == [], [p.diff() for p in pending]
        # a fresh import of the moved files finds the new port
        again = importers.merge(Registry(), _pieces(work), plan_stamp(at)).registry
        found = {p for s in again.services.values() for _e, p in s.assigned()}
        if any(f.path != "ports.toml" for f in report_m.files):
            assert target in found, (sid, [f.path for f in report_m.files])


def _pieces(root: Path) -> list[Imported]:
    from portreg.commands.import_ import project_files, read_all

    files = [
        f for f in project_files(root) if f[0] not in ("expected.json",) and f[0] != "README.md"
    ]
    return list(read_all(files))


def _shift(line: str, old: int, new: int, width: int) -> str:
    """`line` with `old` (and a range's end) replaced by `new` where it stands alone: the end
    after a dash (`20000-20050`) or on a line of its own (`JIGASI_PORT_MAX=20050`)."""
    out = re.sub(rf"(?<![\w.]){old}(?!\d)", str(new), line, count=1)
    if width > 1:
        end = old + width - 1
        out = re.sub(rf"(?<![\w.]){end}(?!\d)", str(new + width - 1), out, count=1)
    return out


def plan_stamp(at: datetime) -> Stamp:
    return Stamp("test", at)


def test_superset_env_file_is_the_containers_not_the_hosts(tmp_path: Path, run: Run) -> None:
    """apache/superset as laid out there: `docker/.env` is every service's `env_file:`, the
    containers' environment. Its ports are named, not recorded, and no move touches it."""
    here = CORPUS / "superset"
    p = _project(
        tmp_path,
        {
            "docker-compose.yml": (here / "docker-compose.yml").read_text(),
            "docker/.env": (here / "docker.env").read_text(),
        },
    )
    inner = (p / "docker" / ".env").read_text()
    proc = run("import", "docker/.env", "docker-compose.yml", cwd=p)
    assert proc.returncode == 0, proc.stderr
    assert "docker/.env: the container environment of db, superset" in proc.stderr
    rows = {r["service"]: r["port"] for r in _rows(run, p)}
    assert rows == {"redis": 6379, "db": 5432, "superset": 8088}
    assert run("sync", "--check", cwd=p).returncode == 0
    for service, port in (("superset", "53088"), ("redis", "53379"), ("db", "53432")):
        moved = run("move", service, port, "--reason", "r", cwd=p)
        assert moved.returncode == 0, moved.stderr
        assert port in (p / "docker-compose.yml").read_text()
    assert (p / "docker" / ".env").read_text() == inner
    assert run("sync", "--check", cwd=p).returncode == 0


def _git_repo(p: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=p, check=True)


def test_a_port_a_base_and_its_override_both_publish_moves_in_both(
    tmp_path: Path, run: Run
) -> None:
    """rustdesk-server: compose merges `ports:`, so 21115 in both files is one port."""
    p = _project(
        tmp_path,
        {
            "docker-compose.yml": (
                'services:\n  hbbs:\n    image: x\n    ports: ["21115:21115", "21118:21118"]\n'
            ),
            "docker-compose.override.yml": (
                'services:\n  hbbs:\n    ports: ["21115:21115", "8080:8080"]\n'
            ),
        },
    )
    assert run("init", "--range", "20000-60000", cwd=p).returncode == 0
    assert run("import", "docker-compose.yml", "docker-compose.override.yml", cwd=p).returncode == 0
    moved = run("move", "hbbs:21115", "53001", "--reason", "r", cwd=p)
    assert moved.returncode == 0, moved.stderr
    for name in ("docker-compose.yml", "docker-compose.override.yml"):
        text = (p / name).read_text()
        assert "53001:21115" in text and "21115:21115" not in text, name
    assert run("sync", "--check", cwd=p).returncode == 0


def test_a_line_shared_through_an_anchor_refuses_the_move(tmp_path: Path, run: Run) -> None:
    """listmonk: one anchored `ports:` merged into app and demo-app; moving app would move both."""
    compose = (
        'x-app: &app\n  image: listmonk\n  ports:\n    - "9000:9000"\n\n'
        "services:\n  app:\n    <<: *app\n  demo-app:\n    <<: *app\n"
    )
    p = _project(tmp_path, {"docker-compose.yml": compose})
    assert run("init", "--range", "8000-60000", cwd=p).returncode == 0
    run("import", "docker-compose.yml", cwd=p)
    refused = run("move", "app", "53107", "--reason", "r", cwd=p)
    assert_one_line_error(refused)
    assert "docker-compose.yml:4 (app, demo-app)" in refused.stderr
    assert (p / "docker-compose.yml").read_text() == compose


def test_keys_that_are_no_host_port_here_are_named_not_recorded(tmp_path: Path, run: Run) -> None:
    """opentelemetry-demo's `"${AD_PORT}"` (a container's port), rustdesk's
    `SMTP_HOST=smtp.gmail.com` + `SMTP_PORT=587` (another machine's), outline's `PORT=3000` in
    a project `.env` that is also the container's `env_file:`, jitsi's `JIGASI_PORT_MAX`."""
    compose = (
        "services:\n"
        '  ad:\n    image: ad\n    ports:\n      - "${AD_PORT}"\n'
        "  outline:\n    image: outline\n    env_file: [{path: .env, required: false}]\n"
        '    ports: ["3000:3000"]\n'
        '  web:\n    image: w\n    env_file: .env\n    ports: ["${WEB_PORT:-8080}:80"]\n'
    )
    env = "PORT=3000\nWEB_PORT=8081\n"
    example = (
        "AD_PORT=9555\nSMTP_HOST=smtp.gmail.com\nSMTP_PORT=587\n"
        "JIGASI_PORT_MIN=20000\nJIGASI_PORT_MAX=20050\n"
    )
    p = _project(tmp_path, {"docker-compose.yml": compose, ".env": env, "env.example": example})
    _git_repo(p)
    assert run("init", "--range", "1000-60000", cwd=p).returncode == 0
    proc = run("import", "docker-compose.yml", ".env", "env.example", cwd=p)
    assert proc.returncode == 0, proc.stderr
    assert "env.example: AD_PORT is the container's side of a compose entry" in proc.stderr
    assert "env.example: SMTP_PORT is a port of smtp.gmail.com, another machine" in proc.stderr
    assert ".env: the container environment of outline, web (env_file:)" in proc.stderr
    rows = {r["service"]: r["port"] for r in _rows(run, p)}
    assert rows == {"outline": 3000, "web": 8081, "jigasi": 20000}
    assert run("sync", "--check", cwd=p).returncode == 0
    for service, port in (("outline", "53001"), ("web", "53002"), ("jigasi", "53003")):
        moved = run("move", service, port, "--reason", "r", cwd=p)
        assert moved.returncode == 0, moved.stderr
    assert (p / ".env").read_text() == "PORT=3000\nWEB_PORT=53002\n"
    assert (p / "env.example").read_text() == example.replace("_MIN=20000", "_MIN=53003")
    assert run("sync", "--check", cwd=p).returncode == 0
