"""One owner per host port and transport across compose files, whatever their order."""

from __future__ import annotations

import itertools

from portreg.importers.published import owners, read

SHOP = (
    "services:\n  web:\n    ports:\n      - '54000:80'\n"
    "      - '3478:3478'\n      - '3478:3478/udp'\n"
)
ADMIN = (
    "services:\n  admin:\n    ports:\n      - target: 8000\n        published: 54000\n"
    "  cache:\n    expose: ['6379']\n"
)
OVERRIDE = "services:\n  web:\n    ports:\n      - '54000:80'\n"


def test_first_in_file_order_owns_and_the_other_is_named() -> None:
    files = {"shop/compose.yaml": SHOP, "admin/compose.yaml": ADMIN, "shop/override.yaml": OVERRIDE}
    results = []
    for order in itertools.permutations(files):
        reads = {name: read(files[name], name, {}) for name in order}
        results.append(owners(reads))
    assert all(r == results[0] for r in results)
    got = results[0]
    owned = {(p.port, p.transport): (src, p.service) for src, p in got.ports}
    # admin/… sorts first: it owns 54000; web's two 54000 entries are named, 3478 is tcp+udp
    assert owned == {
        (54000, "tcp"): ("admin/compose.yaml", "admin"),
        (3478, "tcp"): ("shop/compose.yaml", "web"),
        (3478, "udp"): ("shop/compose.yaml", "web"),
    }
    assert got.warnings == (
        "admin/compose.yaml:7: cache: expose '6379' is for other containers, not published",
        "shop/compose.yaml:4: web publishes 54000/tcp, already admin's"
        " (admin/compose.yaml:5); not recorded",
        "shop/override.yaml:4: web publishes 54000/tcp, already admin's"
        " (admin/compose.yaml:5); not recorded",
    )


def test_same_service_repeating_its_port_is_no_clash() -> None:
    reads = {"a.yaml": read(OVERRIDE, "a.yaml", {}), "b.yaml": read(OVERRIDE, "b.yaml", {})}
    got = owners(reads)
    assert [(src, p.port) for src, p in got.ports] == [("a.yaml", 54000)]
    assert got.warnings == ()
