"""Health (for load balancers and `portreg doctor`) and the Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from portreg.server import queries
from portreg.server.deps import StateDep
from portreg.server.responses import ERRORS, json_response
from portreg.server.schemas import Health

router = APIRouter(responses=ERRORS)
root = APIRouter()  # outside /api/v1


@router.get(
    "/health",
    tags=["meta"],
    summary="database and Redis status (no token needed)",
    responses={200: {"model": Health}, 503: {"model": Health, "description": "Database down"}},
)
async def health(st: StateDep) -> Response:
    from sqlalchemy import text

    redis = await st.broker.ping_redis()
    try:
        async with st.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except st.db_errors:
        return json_response({"status": "error", "database": "error", "redis": redis}, 503)
    status = "degraded" if redis == "error" else "ok"
    return json_response({"status": status, "database": "ok", "redis": redis})


@root.get("/metrics", include_in_schema=False)
async def metrics(st: StateDep) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    m = st.metrics
    try:
        registry = await queries.registry_of(st)
        p = registry.policy
        m.free.labels(f"{p.range_start}-{p.range_end}").set(queries.free_count(registry))
        m.assigned.set(len(registry.taken_ports()))
    except st.db_errors:
        pass  # the gauges keep their last values
    m.subscribers.set(len(st.broker.subscribers))
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
