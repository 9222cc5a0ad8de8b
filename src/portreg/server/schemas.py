"""The API's shapes: request bodies (validated) and answers (documented in /openapi.json).

Answers are written by hand (`responses.json_response`) for speed; the models here declare
what those bodies hold, and `tests/server/test_openapi.py` checks every operation has one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from portreg.naming import MAX_NAME
from portreg.validate import control_char


def _no_control(value: str) -> str:
    """The core's rule for free text (portreg.validate), at the edge: a control character
    (NUL, ESC, a newline in a one-line field) is 422 here on every database, before PostgreSQL
    would refuse a NUL as a database error or SQLite store it and break every later export."""
    bad = control_char(value)
    if bad is not None:
        raise ValueError(f"has a control character ({bad!r})")
    return value


# Strict: a port is a JSON integer, never "53001", 53001.0 or true (pydantic would coerce them).
PortNumber = Annotated[StrictInt, Field(ge=1, le=65535)]
Text = Annotated[str, Field(max_length=500), AfterValidator(_no_control)]
# A name's control characters are the core's to refuse (`naming.usable`, 400): the same words
# at every door, pinned by the conformance table; the length is checked here too, so the
# schema says the limit the server keeps.
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
EnvName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
Protocol = Annotated[str, Field(max_length=50), AfterValidator(_no_control)]


class Strict(BaseModel):
    """Request bodies: strict types (no string-to-number or number-to-bool coercion), and no
    field the server does not know: a misspelt `enviroment` would otherwise be dropped and the
    default environment written, a wrong write that answers 201."""

    model_config = ConfigDict(strict=True, extra="forbid")


Transport = Annotated[str, Field(pattern="^(tcp|udp)$")]
Status = Annotated[str, Field(pattern="^(active|planned|reserved|deprecated)$")]
# "" = the registry's default host; the core's `validate.host` has the same rule.
Host = Annotated[str, Field(max_length=200, pattern=r"^([A-Za-z0-9][A-Za-z0-9_.:-]*)?$")]


# --- requests


class ServiceIn(Strict):
    name: Name
    port: PortNumber | None = None
    environment: EnvName = "development"
    protocol: Protocol | None = None
    transport: Transport | None = None
    status: Status | None = None
    notes: Text | None = None
    force: StrictBool = False
    reason: Text = ""
    host: Host | None = None


class ServicePatch(Strict):
    name: Name | None = None
    protocol: Protocol | None = None
    status: Status | None = None
    notes: Text | None = None
    description: Text | None = None
    health_check: Text | None = None
    purpose: Text | None = None
    reason: Text = ""


class MoveIn(Strict):
    port: PortNumber
    reason: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_no_control)]
    environment: EnvName = "development"
    host: Host | None = None


class AssignmentIn(Strict):
    service: Name
    environment: EnvName = "development"
    protocol: Protocol | None = None
    transport: Transport | None = None
    reason: Text = ""
    host: Host | None = None


class ReservationIn(Strict):
    service: Name
    port: PortNumber | None = None
    purpose: Text = ""
    environment: EnvName = "development"
    host: Host | None = None


# --- answers


class Health(BaseModel):
    status: str = Field(description="ok, degraded (Redis down) or error (database down)")
    database: str
    redis: str


class ServiceRow(BaseModel):
    """One service in one environment, as `portreg list --json`; a TBD port is null."""

    service: str
    name: str
    environment: str
    port: int | None
    protocol: str
    transport: str
    status: str
    notes: str
    health_check: str
    purpose: str
    host: str = ""


class Change(BaseModel):
    id: int
    at: str
    who: str
    action: str
    service: str
    environment: str
    old: int | None
    new: int | None
    reason: str


class CodeBlock(BaseModel):
    lang: str
    text: str


class ServiceDetail(BaseModel):
    service: str
    name: str
    status: str
    protocol: str
    transport: str
    ports: dict[str, int | None]
    notes: str
    description: str
    process: str
    deployment: str
    health_check: str
    tls: str
    connections: str
    purpose: str
    depends_on: list[str]
    connection_strings: dict[str, str]
    configuration: list[CodeBlock]
    compose_service: str
    container_port: int | None
    forced: bool
    history: list[Change]
    warnings: list[str] = Field(default=[], description="only when the write was accepted")


class Outcome(BaseModel):
    service: str
    environment: str
    port: int | None
    changed: bool


class Moved(BaseModel):
    service: str
    environment: str
    old: int | None
    new: int | None
    changed: bool


class AssignmentOut(BaseModel):
    service: str
    environment: str
    port: int
    created: bool


class PortInfo(BaseModel):
    port: int
    registered: list[ServiceRow]
    allowed: bool
    problems: list[str]


class PolicyOut(BaseModel):
    range: list[int] = Field(description="[start, end]")
    avoid: list[int]
    step: int
    audit_interval_days: int
    last_audit: str | None = Field(description="YYYY-MM-DD")
    next_audit: str | None = Field(description="YYYY-MM-DD")


class Ranges(BaseModel):
    start: int
    end: int
    assigned: list[int]
    reserved: list[int]
    avoided: list[int]
    free: int
    next: int | None


class Finding(BaseModel):
    code: str
    severity: str
    service: str | None
    port: int | None
    message: str
    hint: str
    host: str | None = Field(default=None, description="set on a reported host's findings")


class ChecklistItem(BaseModel):
    item: str
    ok: bool
    codes: list[str]


class AuditSummary(BaseModel):
    errors: int
    warnings: int
    info: int
    total: int
    by_code: dict[str, int]
    checklist: list[ChecklistItem]


class Audit(BaseModel):
    findings: list[Finding]
    summary: AuditSummary
    last_audit: str | None
    next_audit: str | None


class Imported(BaseModel):
    services: int


class StreamTicket(BaseModel):
    ticket: str
    expires_in: int = Field(description="seconds the ticket is good for")
