"""Every /api/v1 operation documents its answer: a 2xx response with a schema in /openapi.json."""

from __future__ import annotations

from typing import Any

import httpx

from tests.server.conftest import StartServer


def _undocumented(doc: dict[str, Any]) -> list[str]:
    missing = []
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in operations.items():
            ok = [r for code, r in op["responses"].items() if code.startswith("2")]
            schemas = [c.get("schema") for r in ok for c in r.get("content", {}).values()]
            # `{}` is what FastAPI writes when nothing was declared: it documents nothing.
            if not ok or not any(s for s in schemas):
                missing.append(f"{method.upper()} {path}")
    return missing


def test_every_api_operation_declares_its_answer_schema(start_server: StartServer) -> None:
    server = start_server()
    doc = httpx.get(server.url + "/openapi.json", timeout=10).json()
    operations = [p for p in doc["paths"] if p.startswith("/api/v1")]
    assert len(operations) >= 14  # the walk saw the API, not an empty document
    assert _undocumented(doc) == []


def test_the_walk_finds_an_operation_without_a_schema() -> None:
    doc = {
        "paths": {
            "/api/v1/x": {"get": {"responses": {"200": {"content": {"application/json": {}}}}}},
            "/api/v1/y": {"post": {"responses": {"201": {"content": {"a/b": {"schema": {}}}}}}},
            "/": {"get": {"responses": {}}},
        }
    }
    assert _undocumented(doc) == ["GET /api/v1/x", "POST /api/v1/y"]
