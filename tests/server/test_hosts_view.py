"""The /hosts view shows what each host reported (it was a stub that always said "no host
reports yet", whatever the agents had sent)."""

from __future__ import annotations

from tests.server.conftest import StartServer, http


def test_the_hosts_view_lists_each_reported_host_and_its_listeners(
    start_server: StartServer,
) -> None:
    server = start_server()
    token = server.token()
    status, html = http("GET", server.url + "/hosts")
    assert status == 200 and "No host reports yet" in html
    rows = [
        {"port": 53777, "protocol": "tcp", "address": "0.0.0.0", "process": "nginx"},
        {"port": 53001, "protocol": "udp", "address": "::"},
    ]
    status, body = http(
        "PUT", server.api + "/hosts/box-one/listeners", {"listeners": rows}, token=token
    )
    assert status == 200, body
    status, html = http("GET", server.url + "/hosts")
    assert status == 200
    assert "No host reports yet" not in html
    assert '<tr data-host="box-one">' in html and "1 hosts reporting" in html
    assert "53777</span> tcp 0.0.0.0 (nginx)" in html and "53001</span> udp ::" in html
    # the listeners in port order
    assert html.index("53001</span>") < html.index("53777</span>")


def test_the_audit_view_names_what_a_reported_host_has_that_the_registry_lacks(
    start_server: StartServer,
) -> None:
    """The page's Audit view shows the hosts' findings, as GET /api/v1/audit answers them."""
    server = start_server()
    token = server.token()
    status, html = http("GET", server.url + "/audit")
    assert status == 200 and "undocumented-listener" not in html
    rows = [{"port": 53777, "protocol": "tcp", "address": "0.0.0.0", "process": "nginx"}]
    status, body = http(
        "PUT", server.api + "/hosts/box-two/listeners", {"listeners": rows}, token=token
    )
    assert status == 200, body
    status, api = http("GET", server.api + "/audit")
    assert [f["host"] for f in api["findings"] if f["code"] == "undocumented-listener"] == [
        "box-two"
    ]
    status, html = http("GET", server.url + "/audit")
    assert status == 200
    assert '<code>undocumented-listener</code> <span class="host">on box-two</span>' in html
