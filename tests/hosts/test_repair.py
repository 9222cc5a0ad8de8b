"""The repair loop in a real server: a port live and unregistered in three reports is held
(allocation skips it after the host stops reporting it), and the metrics say what it saw."""

from __future__ import annotations

import time

from tests.server.conftest import StartServer, http


def test_three_sightings_hold_a_port_and_metrics_show_it(start_server: StartServer) -> None:
    server = start_server(env={"PORTREG_CHECK_HOST": "false", "PORTREG_REPAIR_SECONDS": "0.2"})
    agent, write = server.token("agent"), server.token("write")
    url = f"{server.api}/hosts/h1/listeners"

    def put(*ports: int) -> None:
        body = {"listeners": [{"port": p, "protocol": "tcp"} for p in ports]}
        status, answer = http("PUT", url, body, token=agent)
        assert status == 200, answer
        time.sleep(0.6)  # a few repair passes: only a new report counts as a sighting

    put(53000)
    put(53000)
    put(53000)  # three sightings of 53000: held from now on
    put()  # the next report misses it (a restart): the hold keeps it
    status, out = http(
        "POST", server.api + "/assignments", {"service": "api", "host": "h1"}, token=write
    )
    assert (status, out["port"]) == (201, 53001), out
    time.sleep(0.6)  # the gauges are the repair pass's

    status, text = http("GET", server.url + "/metrics")
    assert status == 200
    assert 'portreg_host_listeners{host="h1"} 0.0' in text
    assert 'portreg_allocator_allocated_ports{host="h1",range="53000-54999"} 1.0' in text
    # 2,000 ports, avoid list outside the range, one registered, one held.
    assert 'portreg_allocator_available_ports{host="h1",range="53000-54999"} 1998.0' in text
    assert 'portreg_repair_actions_total{action="hold"}' in text
    assert "portreg_host_reports_total 4.0" in text
    assert "portreg_host_report_duration_seconds_count 4.0" in text
    assert 'portreg_audit_findings{code="not-listening"} 1.0' in text  # api: nothing listens

    put()
    put()  # three reports without 53000: the hold goes
    status, out = http(
        "POST", server.api + "/assignments", {"service": "api2", "host": "h1"}, token=write
    )
    assert (status, out["port"]) == (201, 53000), out
