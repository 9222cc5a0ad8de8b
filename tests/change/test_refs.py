"""`refs PORT`: every mention in the repository, including the ones no rewriter handles."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Run


def test_refs_lists_every_mention(seed_repo: Path, run: Run) -> None:
    proc = run("refs", "54432", "--json", cwd=seed_repo)
    assert proc.returncode == 0, proc.stderr
    found = {(m["file"], m["line"]): m for m in json.loads(proc.stdout)}

    manual = {k for k, m in found.items() if not m["rewritable"]}
    assert manual == {
        ("docs/runbook.md", 3),
        ("scripts/db.sh", 2),
        ("app/settings.py", 1),
        ("app/settings.py", 3),
    }
    assert found["app/settings.py", 1]["text"] == "DB_PORT = 54432"
    assert ("app/settings.py", 2) not in found  # 154432 is another number
    assert found["app/settings.py", 3]["text"] == 'LOOKS_CLOSE = "54432.5"'  # whole digits

    by_rewriter = {}
    for (name, _line), m in found.items():
        if m["rewritable"]:
            by_rewriter.setdefault(m["rewriter"], set()).add(name)
    assert by_rewriter["env"] == {".env.example"}
    assert by_rewriter["compose"] == {"docker-compose.yaml", "docker-compose.override.yml"}
    assert by_rewriter["marker"] == {"README.md", "CLAUDE.md"}
    assert by_rewriter["page"] == {"docs/SERVICES.md"}
    assert not any(name == "ports.toml" for name, _ in found)  # the registry itself
    # every line of every file that mentions the whole number is listed
    for name in ("docs/runbook.md", "scripts/db.sh", ".env.example", "docker-compose.yaml"):
        lines = (seed_repo / name).read_text().splitlines()
        expected = {i + 1 for i, ln in enumerate(lines) if "54432" in ln}
        assert {line for n, line in found if n == name} == expected, name


def test_refs_text_output_and_no_registry(tmp_path: Path, run: Run) -> None:
    (tmp_path / "run.sh").write_text("uvicorn app:app --port 54123\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.js").write_text("listen(54123)\n")
    proc = run("refs", "54123", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "run.sh:1: [manual] uvicorn app:app --port 54123" in proc.stdout
    assert "node_modules" not in proc.stdout  # not a git repo: the walk skips it
    none = run("refs", "54124", cwd=tmp_path)
    assert none.returncode == 0
    assert "no mention of 54124" in none.stdout
