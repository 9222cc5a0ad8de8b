"""The page in real headless Chromium against a real `portreg serve` (issues 6 and 15): the
seed's services, sorting, the service page, live updates, restarts, writes and their messages."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import ARTIFACTS, Server, cli, wait_js

pytestmark = pytest.mark.browser

# The seed page's services and ports (tests/data/seed.md: Active Services + Reserved Ports).
SEED_SERVICES = {
    "API Server": 54000,
    "PostgreSQL": 54432,
    "Redis": 54379,
    "SSE Worker": 54001,
    "Monitoring": 54002,
}
DOCS = Path(__file__).resolve().parents[2] / "docs"


def open_page(page: Any, server: Server, path: str = "/") -> None:
    page.goto(server.url + path)
    page.wait_for_selector("#conn[data-state=live]", timeout=10_000)


def visible_rows(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "#services tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)"
    )
    return ids


def dev_port(page: Any, sid: str) -> str:
    text: str = page.locator(f'#services tr[data-id="{sid}"] td[data-env=development]').inner_text()
    return text.strip()


def test_seed_is_shown_filtered_and_the_summary_matches_the_api(
    page: Any, server: Server, seed_rows: list[dict[str, Any]]
) -> None:
    open_page(page, server)
    for name, port in SEED_SERVICES.items():
        row = page.locator(
            "#services tbody tr", has=page.get_by_role("link", name=name, exact=True)
        )
        assert row.count() == 1, name
        assert row.locator("td[data-env=development]").inner_text().strip() == str(port)
    for r in seed_rows:
        cell = page.locator(
            f'#services tr[data-id="{r["service"]}"] td[data-env="{r["environment"]}"]'
        )
        assert cell.inner_text().strip() == ("TBD" if r["port"] is None else str(r["port"]))
    services = {r["service"] for r in seed_rows}
    assert len(visible_rows(page)) == len(services)

    page.get_by_label("Search").fill("redis")
    wait_js(page, "document.querySelectorAll('#services tbody tr[data-id]').length === 1")
    assert visible_rows(page) == ["redis"]
    assert page.locator("#count").inner_text() == f"1 of {len(services)} services"
    page.get_by_label("Search").fill("")
    page.get_by_label("Status").select_option("planned")
    wait_js(page, "location.search.includes('status=planned')")
    wait_js(page, "document.querySelectorAll('#services tbody tr[data-id]').length === 2")
    assert sorted(visible_rows(page)) == ["monitoring", "sse-worker"]

    ranges = server.get("/ranges")
    audit = server.get("/audit")
    shown = {
        k: page.locator(f"#sum-{k}").inner_text()
        for k in ("assigned", "reserved", "free", "next", "audit")
    }
    assert shown == {
        "assigned": str(len(ranges["assigned"])),
        "reserved": str(len(ranges["reserved"])),
        "free": str(ranges["free"]),
        "next": str(ranges["next"]),
        "audit": audit["next_audit"],
    }
    open_page(page, server, "/ranges")
    for k in ("assigned", "reserved", "avoided"):
        assert page.locator(f"#range-{k}").inner_text() == str(len(ranges[k]))
    assert page.locator("#range-free").inner_text() == str(ranges["free"])
    assert page.locator("#range-map rect.next title").text_content().startswith(str(ranges["next"]))


def test_sorting_environments_topology_audit_and_the_service_page(
    page: Any, server: Server
) -> None:
    open_page(page, server)
    head = page.locator('#services th[data-key="development"]')
    head.get_by_role("link").click()
    page.wait_for_url("**sort=development**")
    assert head.get_attribute("aria-sort") == "ascending"
    ports = [int(dev_port(page, i)) for i in visible_rows(page)]
    assert ports == sorted(ports)
    page.locator('#services th[data-key="development"]').get_by_role("link").click()
    page.wait_for_url("**dir=desc**")
    assert (
        page.locator('#services th[data-key="development"]').get_attribute("aria-sort")
        == "descending"
    )
    ports = [int(dev_port(page, i)) for i in visible_rows(page)]
    assert ports == sorted(ports, reverse=True)
    assert page.locator('#services th[data-key="name"]').get_attribute("aria-sort") == "none"

    # environments side by side, TBD shown as such
    open_page(page, server, "/environments")
    redis = page.locator('#env-table tr[data-id="redis"]')
    assert redis.locator("td[data-env=development]").inner_text() == "54379"
    assert redis.locator("td[data-env=staging]").inner_text() == "TBD"

    detail = server.get("/services/api-server")
    open_page(page, server, "/topology")
    edges = page.locator('#topology-svg path.edge[data-from="api-server"]')
    assert edges.count() == len(detail["depends_on"]) > 0
    audit = server.get("/audit")
    open_page(page, server, "/audit")
    assert page.locator("#audit-last").inner_text() == (audit["last_audit"] or "never")
    assert page.locator("#audit-next").inner_text() == audit["next_audit"]
    items = page.locator("#audit-checklist li")
    assert items.count() == len(audit["summary"]["checklist"])
    for i, item in enumerate(audit["summary"]["checklist"]):
        assert ("ok" in (items.nth(i).get_attribute("class") or "")) == item["ok"]

    # the service page, reached from the keyboard
    open_page(page, server)
    page.get_by_role("link", name="Redis", exact=True).focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/services/redis")
    text = page.locator("main").inner_text()
    redis_d = server.get("/services/redis")
    for value in (
        redis_d["process"],
        redis_d["deployment"],
        redis_d["health_check"],
        redis_d["tls"],
    ):
        assert value in text
    for var, value in redis_d["connection_strings"].items():
        assert f"{var}={value}" in text
    assert "History of its ports" in text


def test_api_change_appears_live_within_2s(page: Any, server: Server) -> None:
    token = server.token("write")
    open_page(page, server)
    before = int(page.locator("#sum-assigned").inner_text())
    status, body = server.request(
        "POST", "/assignments", {"service": "billing-worker"}, token=token
    )
    assert status == 201, body
    row = page.locator('#services tbody tr[data-id="billing-worker"]')
    row.wait_for(state="visible", timeout=2000)  # no reload
    assert dev_port(page, "billing-worker") == str(body["port"])
    wait_js(
        page, "document.querySelector('#sum-assigned').textContent === arg", str(before + 1), 2.0
    )


def test_stream_lost_and_recovered_across_a_restart(page: Any, server: Server) -> None:
    token = server.token("write")
    open_page(page, server)
    server.stop()
    page.wait_for_selector("#conn[data-state=lost]", timeout=15_000)
    assert "lost" in page.locator("#conn").inner_text()
    server.start()  # same port, same database
    page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
    status, body = server.request("POST", "/assignments", {"service": "after-restart"}, token=token)
    assert status == 201, body
    page.locator('#services tbody tr[data-id="after-restart"]').wait_for(timeout=2000)


def test_assign_through_the_page_needs_a_write_token(page: Any, server: Server) -> None:
    open_page(page, server)
    page.locator("#assign-box summary").click()
    form = page.locator("#assign-form")
    form.get_by_label("Service").fill("page-worker")
    form.get_by_role("button", name="Assign").click()
    result = form.locator(".result")
    wait_js(page, "document.querySelector('#assign-form .result').classList.contains('error')")
    assert "writes need a write token" in result.inner_text()
    assert "nothing was changed" in result.inner_text()
    assert server.request("GET", "/services/page-worker")[0] == 404
    assert page.locator('#services tr[data-id="page-worker"]').count() == 0

    # a read token is refused too (403), with the API's reason
    read = server.token("read")
    page.locator("#write-state").click()
    page.get_by_label("API token (write scope)").fill(read)
    page.get_by_role("button", name="Use token").click()
    wait_js(page, "document.querySelector('#write-state').textContent.startsWith('read only')")
    form.get_by_role("button", name="Assign").click()
    wait_js(page, "document.querySelector('#assign-form .result').textContent.includes('scope')")
    assert "writes need scope 'write'" in result.inner_text()
    assert server.request("GET", "/services/page-worker")[0] == 404

    write = server.token("write")
    page.get_by_label("API token (write scope)").fill(write)
    page.get_by_role("button", name="Use token").click()
    wait_js(page, "document.querySelector('#write-state').textContent === 'write: on (web-write)'")
    assert page.evaluate("sessionStorage.getItem('portreg.token')") == write
    form.get_by_role("button", name="Assign").click()
    wait_js(page, "document.querySelector('#assign-form .result').classList.contains('ok')")
    status, detail = server.request("GET", "/services/page-worker")
    assert status == 200
    port = detail["ports"]["development"]
    assert re.search(rf"page-worker → {port}\b", result.inner_text())
    page.locator('#services tr[data-id="page-worker"]').wait_for(timeout=2000)
    assert dev_port(page, "page-worker") == str(port)

    # the same name again: said plainly, not shown as if new
    form.get_by_role("button", name="Assign").click()
    wait_js(page, "document.querySelector('#assign-form .result').classList.contains('same')")
    assert result.inner_text() == f"no change: page-worker already has {port} in development."

    # a new environment is an explicit step, not a typo
    assert page.locator("#assign-new-env").is_hidden()
    form.get_by_label("Environment", exact=True).select_option("")
    assert page.locator("#assign-new-env").is_visible()


def test_write_errors_are_the_clis_messages(
    page: Any, server: Server, seed_registry: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "cli"
    copy.mkdir()
    (copy / "ports.toml").write_bytes(seed_registry.read_bytes())
    cli_messages = []
    for port in ("22", "54379"):
        proc = cli(
            "reserve", "cache-2", "--port", port,
            cwd=copy, env={"PORTREG_REGISTRY": str(copy / "ports.toml")},
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        cli_messages.append(proc.stderr.strip().removeprefix("error: "))
    moved = cli(
        "move", "redis", "22", "--reason", "try",
        cwd=copy, env={"PORTREG_REGISTRY": str(copy / "ports.toml")},
    )  # fmt: skip
    assert moved.returncode == 2, moved.stderr
    cli_move_message = moved.stderr.strip().removeprefix("error: ")

    page.add_init_script(f"sessionStorage.setItem('portreg.token', {server.token('write')!r})")
    open_page(page, server, "/ranges")
    form = page.locator("#reserve-form")
    result = form.locator(".result")
    form.get_by_label("Service").fill("cache-2")
    for port, message in zip(("22", "54379"), cli_messages, strict=True):
        form.get_by_label("Port (optional: next free)").fill(port)
        form.get_by_role("button", name="Reserve").click()
        wait_js(
            page, "document.querySelector('#reserve-form .result').textContent === arg", message
        )
        assert "error" in (result.get_attribute("class") or "")
    assert server.request("GET", "/services/cache-2")[0] == 404

    # the move form: a refused port leaves the service where it was; a valid move works, and
    # the service's history shows it
    open_page(page, server, "/services/redis")
    move = page.locator("#move-form")
    move.get_by_label("New port").fill("22")
    move.get_by_label("Reason").fill("try")
    move.get_by_role("button", name="Move").click()
    wait_js(page, "document.querySelector('#move-form .result').classList.contains('error')")
    assert move.locator(".result").inner_text() == cli_move_message
    assert server.get("/services/redis")["ports"]["development"] == 54379

    move.get_by_label("New port").fill("53999")
    move.get_by_label("Reason").fill("make room")
    move.get_by_role("button", name="Move").click()
    wait_js(page, "document.querySelector('#move-form .result').classList.contains('ok')")
    assert server.get("/services/redis")["ports"]["development"] == 53999
    wait_js(
        page,
        "document.querySelector('.history')?.textContent.includes('make room')",
    )
    assert page.locator('#detail-ports tr[data-env="development"] td').inner_text() == "53999"

    # releasing an environment that has no port is refused, in the CLI's words
    status, body = server.request(
        "DELETE", "/assignments/redis/staging", token=server.token("write")
    )
    assert status >= 400, body


def test_accessible_names_phone_width_and_contrast_in_both_schemes(
    browser: Any, server: Server
) -> None:
    for scheme in ("light", "dark"):
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme)
        try:
            page = ctx.new_page()
            for path in ("/", "/ranges", "/services/redis", "/topology"):
                open_page(page, server, path)
                unlabeled = page.evaluate(
                    """[...document.querySelectorAll('input:not([type=hidden]), select, button')]
                         .filter(el => !(el.labels && el.labels.length)
                                       && !el.getAttribute('aria-label')
                                       && !el.textContent.trim())
                         .map(el => el.outerHTML)"""
                )
                assert unlabeled == [], path
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
                assert low_contrast(page) == [], (scheme, path)
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            page.keyboard.press("Tab")
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none"
        finally:
            ctx.close()


CONTRAST_JS = """() => {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const alpha = (c) => { const m = c.match(/[\\d.]+/g); return m.length > 3 ? Number(m[3]) : 1; };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (alpha(bg) > 0.5) return bg;
    }
    return "rgb(255, 255, 255)";
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg, dialog:not([open])") || el.disabled) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const st = getComputedStyle(el);
    if (st.visibility === "hidden") continue;
    const a = lum(st.color), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const what = `${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < need) bad.push(`${what} ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


def low_contrast(page: Any) -> list[str]:
    """Text below WCAG AA contrast (4.5:1, 3:1 for large text) against its background."""
    found: list[str] = page.evaluate(CONTRAST_JS)
    return found


def test_screenshots(browser: Any, server: Server) -> None:
    """The README's two pictures and their full-page versions, in artifacts/ (with
    PORTREG_UPDATE_DOCS=1 also copied to docs/, where the README shows them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    for name, (w, h), path in (
        ("desktop", (1280, 800), "/services"),
        ("phone", (390, 844), "/ranges"),
    ):
        ctx = browser.new_context(viewport={"width": w, "height": h})
        try:
            page = ctx.new_page()
            open_page(page, server, path)
            shot = ARTIFACTS / f"screenshot-{name}.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            page.screenshot(path=str(ARTIFACTS / f"screenshot-{name}-full.png"), full_page=True)
            if os.environ.get("PORTREG_UPDATE_DOCS") == "1":  # the README's copies, on request
                shutil.copyfile(shot, DOCS / f"screenshot-{name}.png")
        finally:
            ctx.close()


def test_with_read_auth_the_page_loads_and_goes_live_once_a_token_is_set(
    browser: Any, tmp_path: Path, seed_registry: Path
) -> None:
    """A browser sends no token on navigation: the shell fetches the view with it, and the
    stream takes it as ?access_token= (EventSource sends no Authorization header)."""
    srv = Server(tmp_path, seed_registry)
    srv.env["PORTREG_READ_AUTH"] = "token"
    srv.start()
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        write = srv.token("write")
        page = ctx.new_page()
        page.goto(srv.url + "/services")
        assert page.locator("#needs-token").is_visible()
        assert page.locator("#services").count() == 0
        page.add_init_script(f"sessionStorage.setItem('portreg.token', {write!r})")
        open_page(page, srv, "/services")
        page.locator('#services tr[data-id="redis"]').wait_for(timeout=5000)
        status, body = srv.request("POST", "/assignments", {"service": "behind-auth"}, token=write)
        assert status == 201, body
        page.locator('#services tbody tr[data-id="behind-auth"]').wait_for(timeout=5000)
        assert write not in srv.log.read_text()
    finally:
        ctx.close()
        srv.stop()
