"""Prometheus metrics of one worker: requests, latency, assignments, free ports, SSE subscribers.

Each app has its own CollectorRegistry. With `--workers N` every worker reports its own
counters (a scrape reaches one of them); the gauges read from the database
(`portreg_free_ports`, `portreg_assigned_ports`) are the same from every worker.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "portreg_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "portreg_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.assignments = Counter(
            "portreg_assignments", "ports handed out by this worker", registry=self.registry
        )
        self.assigned = Gauge(
            "portreg_assigned_ports", "ports registered in the database", registry=self.registry
        )
        self.free = Gauge(
            "portreg_free_ports",
            "ports still free in each policy range",
            ["range"],
            registry=self.registry,
        )
        self.subscribers = Gauge(
            "portreg_sse_subscribers",
            "clients on the change stream of this worker",
            registry=self.registry,
        )
        self.db_errors = Counter(
            "portreg_database_errors",
            "requests answered 503 (database unavailable)",
            registry=self.registry,
        )
        # Many hosts, in the style of Kubernetes' allocator metrics
        # (kube_apiserver_clusterip_allocator_allocated_ips{cidr} and friends).
        self.allocated = Gauge(
            "portreg_allocator_allocated_ports",
            'ports registered per policy range and host ("" = the default host)',
            ["range", "host"],
            registry=self.registry,
        )
        self.available = Gauge(
            "portreg_allocator_available_ports",
            "ports still free to hand out per policy range and host",
            ["range", "host"],
            registry=self.registry,
        )
        self.host_listeners = Gauge(
            "portreg_host_listeners",
            "listening ports (protocol, port) in each host's last report",
            ["host"],
            registry=self.registry,
        )
        self.findings = Gauge(
            "portreg_audit_findings",
            "per-host audit findings by code, as of the last repair pass",
            ["code"],
            registry=self.registry,
        )
        self.reports = Counter(
            "portreg_host_reports", "host reports received by this worker", registry=self.registry
        )
        self.report_latency = Histogram(
            "portreg_host_report_duration_seconds",
            "time to validate and store one host report",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.repairs = Counter(
            "portreg_repair_actions",
            "holds placed and lifted by the repair loop",
            ["action"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        pair = self._children.get(key)
        if pair is None:
            pair = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)


class MetricsMiddleware:
    """A plain ASGI middleware (cheap on the hot read path): counts and times every request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], path, status, time.perf_counter() - start)
