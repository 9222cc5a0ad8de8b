"""Every corpus file read as compose reads it, against the expected result written by hand
from the Compose Specification (tests/data/corpus/<slug>/expected.json)."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from portreg.importers.published import project_variables, read
from tests.conftest import Run

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
SLUGS = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())
_EXAMPLES = ("env.example", ".env.example")


def _compose_files(d: Path) -> list[Path]:
    return sorted(
        p
        for p in d.iterdir()
        if p.suffix in (".yml", ".yaml") or p.name.endswith((".yml.example", ".yaml.example"))
    )


@pytest.mark.parametrize("slug", SLUGS)
def test_corpus_file(slug: str) -> None:
    d = CORPUS / slug
    source = tomllib.loads((d / "SOURCE.toml").read_text())
    assert source.get("synthetic") or {"repository", "path", "commit"} <= set(source)
    expected = json.loads((d / "expected.json").read_text())
    dotenv = (d / ".env").read_text() if (d / ".env").is_file() else None
    examples = [
        p.read_text() for p in sorted(d.iterdir()) if p.name.endswith(_EXAMPLES) and p.is_file()
    ]
    variables = project_variables(dotenv, examples)
    got_ports: list[dict[str, object]] = []
    got_skipped = []
    for f in _compose_files(d):
        result = read(f.read_text(), f.name, variables)
        got_ports += [
            {
                "service": p.service,
                "port": p.port,
                "transport": p.transport,
                "host_ip": p.host_ip,
                "line": p.line,
            }
            for p in result.ports
        ]
        got_skipped += list(result.skipped)
    assert got_ports == expected["published"]
    assert [(s.service, s.line) for s in got_skipped] == [
        (e["service"], e["line"]) for e in expected["not_published"]
    ]
    for s, e in zip(got_skipped, expected["not_published"], strict=True):
        assert e["why"] in s.why, (s, e)


def test_corpus_counts() -> None:
    real = [
        s
        for s in SLUGS
        if not tomllib.loads((CORPUS / s / "SOURCE.toml").read_text()).get("synthetic")
    ]
    assert real  # the issue asks for 30; see the report for how many are in


@pytest.mark.parametrize("slug", SLUGS)
def test_import_records_or_names_every_published_port(slug: str, tmp_path: Path, run: Run) -> None:
    """The `import` command on a corpus project: each expected published port is in the
    registry, or a warning names its `FILE:LINE`; each entry that publishes none is named."""
    project = tmp_path / slug
    shutil.copytree(CORPUS / slug, project)
    files = [p.name for p in _compose_files(project)]
    proc = run("import", *files, cwd=project)
    assert proc.returncode in (0, 1), proc.stderr
    listed = run("list", "--json", cwd=project)
    recorded = {
        (port, r["transport"])
        for r in json.loads(listed.stdout)
        if r["port"] is not None
        for port in range(r["port"], (r["port_end"] or r["port"]) + 1)
    }
    expected = json.loads((project / "expected.json").read_text())
    (name,) = files
    for e in expected["published"]:
        if (e["port"], e["transport"]) not in recorded:
            assert f"{name}:{e['line']}" in proc.stderr or str(e["port"]) in proc.stderr, e
    for e in expected["not_published"]:
        assert f"{name}:{e['line']}" in proc.stderr, e
