"""A repository shaped like the seed's project, built for real in a temp dir (git, the CLI)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SEED, Run

ENV_EXAMPLE = """\
# Local development settings (copy to .env)
export API_PORT=54000  # the API's host port
DATABASE_URL="postgresql+asyncpg://postgres:postgres@localhost:54432/claude_agent"  # primary db
REDIS_URL='redis://localhost:54379/0'
POSTGRES_PORT=54432
POSTGRES_CONTAINER_PORT=5432
LOG_LEVEL=info
"""

COMPOSE = """\
# Claude Agent API — local stack
x-restart: &restart
  restart: unless-stopped

x-pg-health: &pg-health
  interval: 5s
  retries: 5

services:
  api:
    <<: *restart
    build: .
    ports:
      - "${API_PORT:-54000}:8000"   # API (short syntax, variable with default)
    environment:
      DATABASE_URL: postgresql+asyncpg://postgres:postgres@postgres:5432/claude_agent
    depends_on: [postgres, redis]

  postgres:
    <<: *restart
    image: postgres:15
    ports:
      - target: 5432
        published: 54432        # long syntax
        protocol: tcp
    healthcheck:
      <<: *pg-health
      test: ["CMD", "pg_isready", "-U", "postgres"]

  redis:
    <<: *restart
    image: redis:7-alpine
    ports:
      - '127.0.0.1:54379:6379'  # loopback only
"""

COMPOSE_OVERRIDE = """\
services:
  postgres:
    ports:
      - "54432:5432"
"""

README = """\
# Claude Agent API

## Port assignments

<!-- portreg:begin services -->
<!-- portreg:end -->

Planned:

<!-- portreg:begin reserved -->

<!-- portreg:end -->
"""

CLAUDE = """\
# CLAUDE.md

Notes for the agent.

## Port assignments

<!-- portreg:begin environments -->
| stale | table |
<!-- portreg:end -->
"""

RUNBOOK = """\
# Runbook

Connect by hand with `psql -h localhost -p 54432 -U postgres`.
"""

SCRIPT = "#!/bin/sh\nexec psql -h localhost -p 54432 -U postgres claude_agent\n"
SETTINGS = 'DB_PORT = 54432\nNOT_A_MENTION = 154432\nLOOKS_CLOSE = "54432.5"\n'

# The files the rewriters own, and the ones only `refs` reports.
REWRITTEN = (
    ".env.example",
    "docker-compose.yaml",
    "docker-compose.override.yml",
    "README.md",
    "CLAUDE.md",
)
MANUAL = ("docs/runbook.md", "scripts/db.sh", "app/settings.py")
PAGE = "docs/SERVICES.md"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def hashes(repo: Path) -> dict[str, str]:
    """sha256 of every file outside .git: "byte-for-byte as before" made checkable."""
    return {
        p.relative_to(repo).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


@pytest.fixture
def seed_repo(tmp_path: Path, run: Run) -> Path:
    """The seed's project: ports.toml imported from the seed page, .env.example, compose files,
    README/CLAUDE.md marker tables filled by `sync`, the page from `render`, all committed."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test Dev")
    git(repo, "config", "user.email", "dev@example.invalid")
    proc = run("import", str(SEED), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    files = {
        ".env.example": ENV_EXAMPLE,
        "docker-compose.yaml": COMPOSE,
        "docker-compose.override.yml": COMPOSE_OVERRIDE,
        "README.md": README,
        "CLAUDE.md": CLAUDE,
        "docs/runbook.md": RUNBOOK,
        "scripts/db.sh": SCRIPT,
        "app/settings.py": SETTINGS,
    }
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    page = run("render", cwd=repo)
    assert page.returncode == 0, page.stderr
    (repo / PAGE).write_text(page.stdout, encoding="utf-8")
    synced = run("sync", cwd=repo)
    assert synced.returncode == 0, synced.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the seed's project")
    return repo
