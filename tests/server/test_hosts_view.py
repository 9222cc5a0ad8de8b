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
