"""The page at `/` in real headless Chromium against a real `portreg serve` (issue 6)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import ARTIFACTS, Server, cli

pytestmark = pytest.mark.browser

# The seed page's services and ports (tests/data/seed.md: Active Services + Reserved Ports).
SEED_SERVICES = {
    "API Server": 54000,
    "PostgreSQL": 54432,
    "Redis": 54379,
    "SSE Worker": 54001,
    "Monitoring": 54002,
}


def open_page(page: Any, server: Server) -> None:
    page.goto(server.url + "/")
    page.wait_for_selector("#conn[data-state=live]", timeout=10_000)


def visible_rows(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "#services tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)"
    )
    return ids


def test_seed_is_shown_filtered_and_ranges_match_the_api(
    page: Any, server: Server, seed_rows: list[dict[str, Any]]
) -> None:
    open_page(page, server)
    table = page.locator("#services tbody")
    for name, port in SEED_SERVICES.items():
        row = table.locator("tr", has=page.get_by_role("button", name=name, exact=True))
        assert row.count() == 1, name
        assert row.locator("td.port").inner_text().split()[0] == str(port)
        assert row.is_visible()
    # …and everything `portreg list --json` says about the imported seed
    for r in seed_rows:
        row = table.locator(f'tr[data-id="{r["service"]}"]')
        assert row.count() == 1
        if r["port"] is not None:
            assert str(r["port"]) in row.inner_text()
    assert len(visible_rows(page)) == len({r["service"] for r in seed_rows})

    page.get_by_label("Search").fill("redis")
    page.wait_for_function("document.querySelectorAll('#services tbody tr[data-id]').length === 1")
    assert visible_rows(page) == ["redis"]
    assert page.locator("#count").inner_text() == f"1 of {visible_names(seed_rows)} services"
    page.get_by_label("Search").fill("")
    page.get_by_label("Status").select_option("planned")
    assert sorted(visible_rows(page)) == ["monitoring", "sse-worker"]
    page.get_by_label("Status").select_option("")

    ranges = server.get("/ranges")
    shown = {
        k: page.locator(f"#range-{k}").inner_text()
        for k in ("assigned", "reserved", "avoided", "free", "next")
    }
    assert shown == {
        "assigned": str(len(ranges["assigned"])),
        "reserved": str(len(ranges["reserved"])),
        "avoided": str(len(ranges["avoided"])),
        "free": str(ranges["free"]),
        "next": str(ranges["next"]),
    }
    assert page.locator("#range-span").inner_text() == f"{ranges['start']}–{ranges['end']}"
    # the strip draws one mark per taken port (runs merged), and marks the next port
    assert (
        page.locator("#range-strip rect.next title").text_content().startswith(str(ranges["next"]))
    )


def visible_names(rows: list[dict[str, Any]]) -> int:
    return len({r["service"] for r in rows})


def test_sorting_environments_topology_audit_and_details(page: Any, server: Server) -> None:
    open_page(page, server)
    port_th = page.locator('#services th[data-key="port"]')
    port_th.get_by_role("button").click()
    assert port_th.get_attribute("aria-sort") == "ascending"
    ports = [int(t.split()[0]) for t in page.locator("#services tbody td.port").all_inner_texts()]
    assert ports == sorted(ports)
    port_th.get_by_role("button").click()
    assert port_th.get_attribute("aria-sort") == "descending"
    ports = [int(t.split()[0]) for t in page.locator("#services tbody td.port").all_inner_texts()]
    assert ports == sorted(ports, reverse=True)
    assert page.locator('#services th[data-key="name"]').get_attribute("aria-sort") == "none"

    # environments side by side, TBD shown as such
    for env in ("development", "staging", "production"):
        assert page.locator(f'#env-grid [data-env="{env}"]').is_visible()
    staging = page.locator('#env-grid [data-env="staging"]').inner_text()
    assert "TBD" in staging
    assert "54379" in page.locator('#env-grid [data-env="development"]').inner_text()

    # topology from depends_on, audit dates and checklist, as the API says
    detail = server.get("/services/api-server")
    edges = page.locator("#topology-svg line.edge")
    assert edges.count() == len(detail["depends_on"]) > 0
    audit = server.get("/audit")
    assert page.locator("#audit-last").inner_text() == (audit["last_audit"] or "never")
    assert page.locator("#audit-next").inner_text() == audit["next_audit"]
    boxes = page.locator("#audit-checklist input[type=checkbox]")
    assert boxes.count() == len(audit["summary"]["checklist"])
    for i, item in enumerate(audit["summary"]["checklist"]):
        assert boxes.nth(i).is_checked() == item["ok"]

    # the detail dialog, opened and closed from the keyboard
    button = page.get_by_role("button", name="Redis", exact=True)
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#detail")
    page.wait_for_selector("#detail[open] .facts")
    text = dialog.inner_text()
    redis = server.get("/services/redis")
    for value in (redis["process"], redis["deployment"], redis["health_check"], redis["tls"]):
        assert value in text
    for var, value in redis["connection_strings"].items():
        assert f"{var}={value}" in text
    assert "History of its ports" in text
    page.keyboard.press("Escape")
    page.wait_for_function("!document.querySelector('#detail').open")
    assert page.evaluate("document.activeElement.dataset.open") == "redis"


def test_api_change_appears_live_within_2s(page: Any, server: Server) -> None:
    token = server.token("write")
    open_page(page, server)
    before = int(page.locator("#range-assigned").inner_text())
    status, body = server.request(
        "POST", "/assignments", {"service": "billing-worker"}, token=token
    )
    assert status == 201, body
    row = page.locator('#services tbody tr[data-id="billing-worker"]')
    row.wait_for(state="visible", timeout=2000)  # no reload
    assert str(body["port"]) in row.inner_text()
    page.wait_for_function(
        f"document.querySelector('#range-assigned').textContent === '{before + 1}'", timeout=2000
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
    form = page.locator("#assign-form")
    form.get_by_label("Service").fill("page-worker")
    form.get_by_role("button", name="Assign").click()
    result = form.locator(".result")
    page.wait_for_function(
        "document.querySelector('#assign-form .result').classList.contains('error')"
    )
    assert "writes need a write token" in result.inner_text()
    assert "nothing was changed" in result.inner_text()
    assert server.request("GET", "/services/page-worker")[0] == 404
    assert page.locator('#services tr[data-id="page-worker"]').count() == 0

    # a read token is refused too (403), with the API's reason
    read = server.token("read")
    page.locator("#token-box summary").click()
    page.get_by_label("API token (write scope)").fill(read)
    page.get_by_role("button", name="Use token").click()
    form.get_by_role("button", name="Assign").click()
    page.wait_for_function(
        "document.querySelector('#assign-form .result').textContent.includes('scope')"
    )
    assert "writes need scope 'write'" in result.inner_text()
    assert server.request("GET", "/services/page-worker")[0] == 404

    write = server.token("write")
    page.get_by_label("API token (write scope)").fill(write)
    page.get_by_role("button", name="Use token").click()
    assert page.evaluate("sessionStorage.getItem('portreg.token')") == write
    form.get_by_role("button", name="Assign").click()
    page.wait_for_function(
        "document.querySelector('#assign-form .result').classList.contains('ok')"
    )
    status, detail = server.request("GET", "/services/page-worker")
    assert status == 200
    port = detail["ports"]["development"]
    assert re.search(rf"page-worker → {port}\b", result.inner_text())
    assert str(port) in page.locator('#services tr[data-id="page-worker"]').inner_text()


def test_write_errors_are_the_clis_messages(
    page: Any, server: Server, seed_registry: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "cli"
    copy.mkdir()
    (copy / "ports.toml").write_bytes(seed_registry.read_bytes())
    cli_messages = []
    for port in ("22", "54379"):
        proc = cli(
            "reserve",
            "cache-2",
            "--port",
            port,
            cwd=copy,
            env={"PORTREG_REGISTRY": str(copy / "ports.toml")},
        )
        assert proc.returncode == 2, proc.stderr
        cli_messages.append(proc.stderr.strip().removeprefix("error: "))
    moved = cli(
        "move", "redis", "22", "--reason", "try",
        cwd=copy, env={"PORTREG_REGISTRY": str(copy / "ports.toml")},
    )  # fmt: skip
    assert moved.returncode == 2, moved.stderr
    cli_move_message = moved.stderr.strip().removeprefix("error: ")

    page.add_init_script(f"sessionStorage.setItem('portreg.token', {server.token('write')!r})")
    open_page(page, server)
    form = page.locator("#reserve-form")
    result = form.locator(".result")
    form.get_by_label("Service").fill("cache-2")
    for port, message in zip(("22", "54379"), cli_messages, strict=True):
        form.get_by_label("Port (optional: next free)").fill(port)
        form.get_by_role("button", name="Reserve").click()
        page.wait_for_function(
            "t => document.querySelector('#reserve-form .result').textContent === t", arg=message
        )
        assert "error" in (result.get_attribute("class") or "")
    assert server.request("GET", "/services/cache-2")[0] == 404

    # the move dialog: a refused port leaves the service where it was; a valid move works,
    # and the service's history shows it
    page.get_by_role("button", name="Redis", exact=True).click()
    page.wait_for_selector("#detail[open] .facts")
    move = page.locator("#move-form")
    move.get_by_label("New port").fill("22")
    move.get_by_label("Reason").fill("try")
    move.get_by_role("button", name="Move").click()
    page.wait_for_function(
        "document.querySelector('#move-form .result').classList.contains('error')"
    )
    assert move.locator(".result").inner_text() == cli_move_message
    assert server.get("/services/redis")["ports"]["development"] == 54379

    move.get_by_label("New port").fill("53999")
    move.get_by_label("Reason").fill("make room")
    move.get_by_role("button", name="Move").click()
    page.wait_for_function("document.querySelector('#move-form .result').classList.contains('ok')")
    assert server.get("/services/redis")["ports"]["development"] == 53999
    page.wait_for_function(
        "document.querySelector('#detail .history') && "
        "document.querySelector('#detail .history').textContent.includes('make room')"
    )
    assert page.locator('#services tr[data-id="redis"] td.port').inner_text() == "53999"


def test_accessible_names_and_phone_width(browser: Any, server: Server) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    try:
        page = ctx.new_page()
        open_page(page, server)
        unlabeled = page.evaluate(
            """[...document.querySelectorAll('input, select, button')]
                 .filter(el => !el.closest('dialog'))
                 .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                               && !el.textContent.trim())
                 .map(el => el.outerHTML)"""
        )
        assert unlabeled == []
        # nothing is wider than the phone's screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        # every focusable control shows a visible focus style
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
        assert low_contrast(page) == []
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
    ARTIFACTS.mkdir(exist_ok=True)
    for name, (w, h) in {"desktop": (1280, 800), "phone": (390, 844)}.items():
        ctx = browser.new_context(viewport={"width": w, "height": h})
        try:
            page = ctx.new_page()
            open_page(page, server)
            path = ARTIFACTS / f"screenshot-{name}.png"
            page.screenshot(path=str(path))
            assert path.stat().st_size > 10_000
            page.screenshot(path=str(ARTIFACTS / f"screenshot-{name}-full.png"), full_page=True)
        finally:
            ctx.close()


def test_with_read_auth_the_stream_goes_live_once_a_token_is_set(
    browser: Any, tmp_path: Path, seed_registry: Path
) -> None:
    """EventSource sends no Authorization header: the page passes its token as ?access_token=."""
    srv = Server(tmp_path, seed_registry)
    srv.env["PORTREG_READ_AUTH"] = "token"
    srv.start()
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        write = srv.token("write")
        page = ctx.new_page()
        page.add_init_script(f"sessionStorage.setItem('portreg.token', {write!r})")
        open_page(page, srv)
        status, body = srv.request("POST", "/assignments", {"service": "behind-auth"}, token=write)
        assert status == 201, body
        page.locator('#services tbody tr[data-id="behind-auth"]').wait_for(timeout=5000)
        assert write not in srv.log.read_text()
    finally:
        ctx.close()
        srv.stop()
