"""Issue 15: the page's views, in real Chromium against a real `portreg serve`, with 60
services that depend on each other; axe-core 4.x (axe-playwright-python) in every view."""

from __future__ import annotations

import gzip
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import ARTIFACTS, Server, wait_js

pytestmark = pytest.mark.browser

VIEWS = (
    "/", "/services", "/services/svc-07", "/ranges", "/topology",
    "/environments", "/audit", "/changes", "/hosts",
)  # fmt: skip
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844), "desktop-dark": (1280, 800)}


def dependent_registry(path: Path, count: int = 60) -> Path:
    """`count` services; each depends on one or two earlier ones (a layered graph)."""
    from portreg import store
    from portreg.model import ConnectionString, Registry, Service

    services = {}
    for i in range(count):
        sid = f"svc-{i:02d}"
        deps = tuple(f"svc-{j:02d}" for j in {i // 2, i // 3} if j != i) if i else ()
        services[sid] = Service(
            id=sid,
            name=f"Service {i:02d} {'worker' if i % 2 else 'api'}",
            ports={"development": 53100 + i, "staging": None if i % 4 else 54100 + i},
            protocol=("http", "postgres", "redis", "tcp")[i % 4],
            status=("active", "planned", "deprecated")[i % 3] if i % 7 else "reserved",
            notes=f"pool {i % 5}",
            connection_strings=(ConnectionString("URL", "http://localhost:{port}/"),),
            depends_on=deps,
        )
    # A range registration and an environment beyond the standard three: the views show the
    # range whole and take every port of it, and the phone layout still fits.
    services["media-relay"] = Service(
        id="media-relay", name="Media relay", ports={"development": 53500}, width=10
    )
    services["qa-runner"] = Service(
        id="qa-runner", name="QA runner", ports={"development": 53520, "qa": 53521}
    )
    path.write_text(store.dumps(Registry(project="web", services=services)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sixty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("sixty")
    srv = Server(d, dependent_registry(d / "ports.toml"))
    srv.start()
    yield srv
    srv.stop()


def live(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#conn[data-state=live]", timeout=10_000)


def axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result.response["violations"]
    ]


def test_each_view_answers_at_its_address(sixty: Server) -> None:
    for path in VIEWS:
        with urllib.request.urlopen(sixty.url + path, timeout=10) as r:
            html = r.read().decode()
            assert r.status == 200, path
        assert 'id="main"' in html and "<h1" in html, path
    home = urllib.request.urlopen(sixty.url + "/", timeout=10).read().decode()
    assert 'type="search"' in home and "Service 07 worker" in home
    assert (
        "no host reports yet"
        in urllib.request.urlopen(sixty.url + "/hosts").read().decode().lower()
    )


def test_a_range_is_shown_whole_and_taken_port_by_port(sixty: Server) -> None:
    ranges = sixty.get("/ranges")
    assert set(range(53500, 53510)) <= set(ranges["assigned"])
    assert ranges["next"] not in range(53500, 53510)
    page = urllib.request.urlopen(sixty.url + "/services?q=53505", timeout=10).read().decode()
    assert 'data-id="media-relay"' in page and "53500-53509" in re.sub("<[^>]+>", "", page)
    detail = urllib.request.urlopen(sixty.url + "/services/media-relay", timeout=10).read()
    assert b"53500-53509" in detail
    free = urllib.request.urlopen(sixty.url + "/ranges", timeout=10).read().decode()
    blocks = free.split('id="free-blocks"')[1].split("</ul>")[0]
    assert "53501" not in blocks and "53509" not in blocks


def test_search_filter_sort_and_page_live_in_the_url(browser: Any, sixty: Server) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        live(page, sixty.url + "/services?q=worker&status=planned&sort=development&dir=desc")
        ids = page.eval_on_selector_all(
            "#services tbody tr[data-id]", "rs => rs.map(r => r.dataset.id)"
        )
        want = sorted(
            (
                s
                for s in sixty.get("/services?environment=development")
                if "worker" in s["name"].lower() and s["status"] == "planned"
            ),
            key=lambda s: -s["port"],
        )
        assert ids == [s["service"] for s in want] and ids
        assert page.get_by_label("Search").input_value() == "worker"
        assert page.locator('th[data-key="development"]').get_attribute("aria-sort") == "descending"
        # typing filters the table and writes the state into the address
        page.get_by_label("Search").fill("svc-1")
        wait_js(page, "location.search.includes('q=svc-1')")
        wait_js(
            page,
            "[...document.querySelectorAll('#services tbody tr[data-id]')]"
            ".every(r => r.dataset.id.startsWith('svc-1'))",
        )
        page.reload()
        assert page.get_by_label("Search").input_value() == "svc-1"
        # `/` jumps to the search box
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "q"
    finally:
        ctx.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_axe_violations_and_no_overflow(browser: Any, sixty: Server, width: str) -> None:
    w, h = WIDTHS[width]
    scheme = "dark" if width.endswith("dark") else "light"
    ctx = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page = ctx.new_page()
        for path in VIEWS:
            live(page, sixty.url + path)
            assert axe_violations(page) == [], path
            if path == "/services" and width == "desktop":
                heights = page.eval_on_selector_all(
                    "#services tbody tr", "rs => rs.map(r => r.getBoundingClientRect().height)"
                )
                assert max(heights) <= 34, max(heights)  # ~32 px rows
            if width == "phone":
                wide = page.evaluate(
                    """() => [...document.querySelectorAll('body *')]
                      .filter(e => !e.closest('.map-wrap, .topology, .scroll-x, .sr-only,'
                                              + 'details:not([open]) > :not(summary)'))
                      .filter(e => { const r = e.getBoundingClientRect();
                                     return r.width && r.right > innerWidth + 0.5; })
                      .map(e => e.tagName + '.' + e.className)"""
                )
                assert page.evaluate("document.documentElement.scrollWidth") <= w, path
                assert wide == [], path
            name = path.strip("/").replace("/", "-") or "home"
            page.screenshot(path=str(ARTIFACTS / f"view-{name}-{width}.png"))
    finally:
        ctx.close()


def test_topology_is_readable_and_opens_the_service(browser: Any, sixty: Server) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        live(page, sixty.url + "/topology")
        sizes = page.eval_on_selector_all(
            "#topology-svg text", "ts => ts.map(t => t.getBoundingClientRect().height)"
        )
        heights = page.eval_on_selector_all(
            "#topology-svg text",
            "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)",
        )
        assert sizes and min(heights) >= 11, min(heights)
        nodes = page.locator("#topology-svg a.node")
        assert nodes.count() == 60
        edges = sum(
            len(s["depends_on"]) for s in (sixty.get(f"/services/svc-{i:02d}") for i in range(60))
        )
        assert page.locator("#topology-svg path.edge").count() == edges
        page.get_by_role("button", name="Zoom in").click()
        assert page.locator("#zoom-level").inner_text() == "125%"
        page.get_by_role("button", name="Actual size").click()
        page.locator('#topology-svg a.node[data-id="svc-05"]').focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/services/svc-05")
        assert "Service 05" in page.locator("h1").inner_text()
        # the per-service view: what it depends on and what depends on it
        used_by = page.locator("#used-by a").all_inner_texts()
        assert "Service 10 api" in used_by and "Service 11 worker" in used_by
        assert page.locator("#depends-on a").all_inner_texts() == [
            "Service 02 api",
            "Service 01 worker",
        ] or sorted(page.locator("#depends-on a").all_inner_texts()) == [
            "Service 01 worker",
            "Service 02 api",
        ]
    finally:
        ctx.close()


def test_focus_stays_put_across_a_live_change(browser: Any, sixty: Server) -> None:
    token = sixty.token("write")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        live(page, sixty.url + "/services")
        link = page.locator('#services tr[data-id="svc-12"] th a')
        link.focus()
        page.evaluate("window.__focused = document.activeElement")
        status, body = sixty.request(
            "POST", "/services/svc-12/move", {"port": 53912, "reason": "focus test"}, token=token
        )
        assert status == 200 and body["changed"] is True, body
        wait_js(
            page,
            "document.querySelector('#services tr[data-id=\"svc-12\"] td[data-env=development]')"
            ".textContent.trim() === '53912'",
            timeout=3.0,
        )
        assert page.evaluate("document.activeElement === window.__focused")
        # a new service appears too, and focus is still where it was
        status, body = sixty.request("POST", "/assignments", {"service": "svc-125"}, token=token)
        assert status == 201, body
        page.locator('#services tr[data-id="svc-125"]').wait_for(timeout=3000)
        assert page.evaluate("document.activeElement === window.__focused")
        # on another view the whole <main> is patched in place: focus stays there as well
        page.goto(sixty.url + "/environments")
        page.wait_for_selector("#conn[data-state=live]")
        page.locator('#env-table tr[data-id="svc-12"] th a').focus()
        page.evaluate("window.__focused = document.activeElement")
        sixty.request(
            "POST", "/services/svc-12/move", {"port": 53913, "reason": "again"}, token=token
        )
        wait_js(
            page,
            "document.querySelector('#env-table tr[data-id=\"svc-12\"] td[data-env=development]')"
            ".textContent.trim() === '53913'",
            timeout=3.0,
        )
        assert page.evaluate("document.activeElement === window.__focused")
    finally:
        ctx.close()


def test_the_row_menu_from_the_keyboard(browser: Any, sixty: Server) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        live(page, sixty.url + "/services")
        summary = page.get_by_label("Actions for Service 03 worker")
        summary.focus()
        page.keyboard.press("Enter")
        menu = page.locator('#services tr[data-id="svc-03"] details.menu')
        assert menu.get_attribute("open") is not None
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Move…"
        page.keyboard.press("Escape")
        assert menu.get_attribute("open") is None
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
            "Actions for Service 03 worker"
        )
        menu.locator("summary").click()
        menu.get_by_role("link", name="Release…").click()
        page.wait_for_url("**/services/svc-03#release")
    finally:
        ctx.close()


def test_a_move_to_the_same_port_says_no_change(browser: Any, sixty: Server) -> None:
    token = sixty.token("write")
    port = sixty.get("/services/svc-20")["ports"]["development"]
    before = len(sixty.get("/changes?service=svc-20&limit=1000"))
    status, body = sixty.request(
        "POST", "/services/svc-20/move", {"port": port, "reason": "same"}, token=token
    )
    assert status == 200 and body == {
        "service": "svc-20", "environment": "development",
        "old": port, "new": port, "changed": False,
    }  # fmt: skip
    assert len(sixty.get("/changes?service=svc-20&limit=1000")) == before
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        page.add_init_script(f"sessionStorage.setItem('portreg.token', {token!r})")
        live(page, sixty.url + "/services/svc-20")
        wait_js(page, "document.querySelector('#write-state').textContent.startsWith('write: on')")
        assert page.locator("#write-state").inner_text() == "write: on (web-write)"
        form = page.locator("#move-form")
        form.get_by_label("New port").fill(str(port))
        form.get_by_label("Reason").fill("same again")
        form.get_by_role("button", name="Move").click()
        wait_js(page, "document.querySelector('#move-form .result').textContent.length > 2")
        assert (
            form.locator(".result").inner_text()
            == f"no change: svc-20 already has {port} in development."
        )
        # the stale message goes as soon as the field changes
        form.get_by_label("New port").fill("1")
        assert form.locator(".result").inner_text() == ""
    finally:
        ctx.close()


def test_a_token_is_checked_when_entered(browser: Any, sixty: Server) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tickets: list[str] = []
        page.on("request", lambda r: tickets.append(r.url) if "stream-tickets" in r.url else None)
        live(page, sixty.url + "/services")
        assert page.locator("#write-state").inner_text() == "write: off"
        page.locator("#write-state").click()
        page.get_by_label("API token (write scope)").fill("not-a-token")
        page.get_by_role("button", name="Use token").click()
        wait_js(page, "document.querySelector('#write-state').textContent.includes('refused')")
        assert "invalid token" in page.locator("#token-state").inner_text()
        # the refused token is forgotten: the stream reconnects without asking for a ticket
        page.wait_for_selector("#conn[data-state=live]", timeout=10_000)
        assert page.evaluate("sessionStorage.getItem('portreg.token')") is None
        assert tickets == [] and errors == [], (tickets, errors)
        # a new environment is typed only after choosing to: its pattern is a valid one
        page.locator("#assign-box > summary").click()
        page.locator("#assign-env").select_option(label="New environment…")
        page.locator("#assign-new-env").fill("qa2")
        assert page.evaluate("document.querySelector('#assign-new-env').validity.valid")
        page.locator("#assign-new-env").fill("Bad Env")
        assert page.evaluate("document.querySelector('#assign-new-env').validity.patternMismatch")
        assert errors == [], errors
        read = sixty.token("read")
        page.get_by_label("API token (write scope)").fill(read)
        page.get_by_role("button", name="Use token").click()
        wait_js(page, "document.querySelector('#write-state').textContent.startsWith('read only')")
        assert "writes need scope 'write'" in page.locator("#token-state").inner_text()
    finally:
        ctx.close()


def test_range_map_names_the_service_and_offers_free_ports(browser: Any, sixty: Server) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        live(page, sixty.url + "/ranges")
        svg = page.locator("#range-map")
        box = svg.bounding_box()
        d = page.evaluate(
            "(() => { const s = document.querySelector('#range-map').dataset;"
            " return {x0: +s.x0, y0: +s.y0, cell: +s.cell, cols: +s.cols, start: +s.start}; })()"
        )

        def point(port: int) -> tuple[float, float]:
            off = port - d["start"]
            return (
                box["x"] + d["x0"] + (off % d["cols"]) * d["cell"] + d["cell"] / 2,
                box["y"] + d["y0"] + (off // d["cols"]) * d["cell"] + d["cell"] / 2,
            )

        owner = sixty.get("/services/svc-03")
        page.mouse.move(*point(owner["ports"]["development"]))
        assert (
            page.locator("#port-info")
            .inner_text()
            .startswith(f"{owner['ports']['development']}: Service 03 worker")
        )
        page.mouse.click(*point(53050))
        assert page.locator("#port-info").inner_text().startswith("53050: free")
        assert page.locator("#reserve-port").input_value() == "53050"
        blocks = page.locator("#free-blocks li").all_inner_texts()
        assert blocks and "reserve" in blocks[0]
        # reserved and avoided cells carry a pattern as well as a colour
        assert page.locator('#range-map rect[fill="url(#hatch)"]').count() >= 1
    finally:
        ctx.close()


def test_headers_compression_and_caching(sixty: Server) -> None:
    req = urllib.request.Request(sixty.url + "/services", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=10) as r:
        csp = r.headers["Content-Security-Policy"]
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        html = gzip.decompress(r.read()).decode()
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in html and " onsubmit=" not in html and " onclick=" not in html
    version = html.split("/static/app.js?v=")[1].split('"')[0]
    for path in (f"/static/app.js?v={version}", f"/static/style.css?v={version}"):
        r2 = urllib.request.urlopen(
            urllib.request.Request(sixty.url + path, headers={"Accept-Encoding": "gzip"})
        )
        assert r2.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r2.headers["Content-Encoding"] == "gzip"
    r3 = urllib.request.urlopen(
        urllib.request.Request(sixty.url + "/api/v1/services", headers={"Accept-Encoding": "gzip"})
    )
    assert r3.headers["Content-Encoding"] == "gzip"
    assert (
        urllib.request.urlopen(sixty.url + "/static/app.js").headers["Cache-Control"] == "no-cache"
    )
    fav = urllib.request.urlopen(sixty.url + "/favicon.ico")
    assert fav.status == 200 and fav.headers["Content-Type"].startswith("image/svg+xml")


def test_without_javascript_nothing_pretends(browser: Any, sixty: Server) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(sixty.url + "/services?q=svc-0")
        assert page.locator("#conn").inner_text() == "not live"
        assert page.locator("noscript").count() == 1
        assert page.locator("#assign-form button[type=submit]").is_disabled()
        assert page.locator("#services tbody tr[data-id]").count() == 10
    finally:
        ctx.close()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Server]:
    """Twelve services, named ports and a 100-character one-word name: a server to change."""
    from portreg import store
    from portreg.model import Registry, Service

    services = {
        f"svc-{i:02d}": Service(
            id=f"svc-{i:02d}",
            name=f"Service {i:02d}",
            ports={"development": 53100 + i},
            status="deprecated" if i % 2 else "active",
            depends_on={0: ("svc-00",), 2: ("ghost",)}.get(i, ()),
        )
        for i in range(10)
    }
    services["kong"] = Service(id="kong", name="Kong")
    services["kong:https"] = Service(id="kong:https", name="Kong", ports={"development": 53443})
    services["kong:http"] = Service(id="kong:http", name="Kong", ports={"development": 53480})
    services["x" * 100] = Service(id="x" * 100, name="x" * 100, ports={"development": 53200})
    path = tmp_path / "ports.toml"
    path.write_text(store.dumps(Registry(project="small", services=services)), encoding="utf-8")
    srv = Server(tmp_path, path)
    srv.start()
    yield srv
    srv.stop()


def test_live_changes_keep_the_filter_the_count_and_the_focus(browser: Any, small: Server) -> None:
    token = small.token("write")
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        page.add_init_script(f"sessionStorage.setItem('portreg.token', {token!r})")
        live(page, small.url + "/services?status=deprecated")
        rows = (
            "[...document.querySelectorAll('#services tbody tr[data-id]')].map(r => r.dataset.id)"
        )
        assert page.evaluate(rows) == ["svc-01", "svc-03", "svc-05", "svc-07", "svc-09"]
        # a new active service does not slip into a table filtered to deprecated ones
        status, _ = small.request("POST", "/assignments", {"service": "aaa-new"}, token=token)
        assert status == 201
        wait_js(page, "document.querySelector('#count').textContent.includes('of 14')")
        assert page.evaluate(rows) == ["svc-01", "svc-03", "svc-05", "svc-07", "svc-09"]
        # the focused row goes: focus moves to its neighbour, never to <body>
        page.locator('#services tr[data-id="svc-03"] a.open').focus()
        status, _ = small.request("DELETE", "/services/svc-03", token=token)
        assert status in (200, 204)
        wait_js(page, "!document.querySelector('#services tr[data-id=\"svc-03\"]')")
        assert page.evaluate("document.activeElement.closest('tr')?.dataset.id") == "svc-05"
        # a new environment adds its column to the header and to every row alike
        page.goto(small.url + "/services")
        page.wait_for_selector("#conn[data-state=live]")
        status, _ = small.request(
            "POST", "/assignments", {"service": "svc-04", "environment": "qa"}, token=token
        )
        assert status == 201
        wait_js(
            page,
            "[...document.querySelectorAll('#services thead th')]"
            ".some(t => t.textContent.trim() === 'qa')",
        )
        widths = page.evaluate(
            "[...document.querySelectorAll('#services tr')].map(r => r.children.length)"
        )
        assert len(set(widths)) == 1, widths
        # named ports are rows of their own, labelled; the service they belong to is a page
        labels = page.locator("#services tbody th a").all_inner_texts()
        assert "Kong (https)" in labels and "Kong (http)" in labels and "Kong" not in labels
        page.goto(small.url + "/services/kong")
        assert page.locator("#detail-ports a").all_inner_texts() == ["https", "http"] or sorted(
            page.locator("#detail-ports a").all_inner_texts()
        ) == ["http", "https"]
    finally:
        ctx.close()


def test_a_forms_message_stays_and_a_repeated_reservation_says_no_change(
    browser: Any, small: Server
) -> None:
    token = small.token("write")
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        page.add_init_script(f"sessionStorage.setItem('portreg.token', {token!r})")
        live(page, small.url + "/services/" + "x" * 100)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        live(page, small.url + "/ranges")
        form = page.locator("#reserve-form")
        form.get_by_label("Service").fill("planned-x")
        form.get_by_label("Port (optional: next free)").fill("53990")
        button = form.get_by_role("button", name="Reserve")
        button.focus()
        page.keyboard.press("Enter")
        wait_js(
            page,
            "document.querySelector('#reserve-form .result').textContent.startsWith('Reserved')",
        )
        assert page.evaluate("document.activeElement.textContent.trim()") == "Reserve"
        page.wait_for_timeout(800)  # the live refresh of the view has come and gone
        assert form.locator(".result").inner_text() == "Reserved 53990 for planned-x."
        button.click()
        wait_js(
            page,
            "document.querySelector('#reserve-form .result').textContent.startsWith('no change')",
        )
    finally:
        ctx.close()


def test_the_topology_says_what_it_cannot_draw(small: Server) -> None:
    html = urllib.request.urlopen(small.url + "/topology", timeout=10).read().decode()
    note = re.sub("<[^>]+>", "", html.split('id="not-drawn">')[1].split("</p>")[0])
    assert note == (
        "Not drawn: Service 00 depends on itself; Service 02 depends on ghost (not registered)."
    )
