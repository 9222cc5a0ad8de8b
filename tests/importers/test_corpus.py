"""Every corpus file read as compose (or a person) reads it, against the expected result
written by hand from the Compose Specification (tests/data/corpus/<slug>/expected.json; the
format is in tests/data/corpus/README.md)."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from portreg.importers import dotenv, markdown
from portreg.importers.published import project_variables, read
from portreg.rewrite import is_env_file
from tests.conftest import Run

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
SLUGS = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())
_META = ("SOURCE.toml", "expected.json")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def _kind(name: str) -> str | None:
    if name.endswith((".yml", ".yaml", ".yml.example", ".yaml.example")):
        return "compose"
    if is_env_file(name):
        return "env"
    if name.endswith(".md"):
        return "markdown"
    return None


def _files(d: Path, kind: str) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_file() and _kind(p.name) == kind)


def _source(slug: str) -> dict[str, Any]:
    return tomllib.loads((CORPUS / slug / "SOURCE.toml").read_text())


def _real(slug: str) -> bool:
    return not _source(slug).get("synthetic")


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["file"], r["line"], r.get("port", 0), str(r)))


@pytest.mark.parametrize("slug", SLUGS)
def test_every_file_names_its_origin(slug: str) -> None:
    """A real file keeps its repository, path and commit beside it (one entry per file when
    a directory holds several), and every file in the directory is one the suite reads."""
    d = CORPUS / slug
    names = sorted(p.name for p in d.iterdir() if p.name not in _META)
    assert names and all(_kind(n) for n in names), names
    source = _source(slug)
    if source.get("synthetic"):
        return
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", source["repository"]), source
    if "files" in source:
        per_file = source["files"]
    else:
        assert len(names) == 1, "several files: one [files.NAME] table each"
        per_file = {names[0]: source}
    assert sorted(per_file) == names, (sorted(per_file), names)
    for origin in per_file.values():
        assert origin["path"] and _COMMIT.match(origin["commit"]), origin


def test_corpus_holds_thirty_real_files() -> None:
    real = [
        p for slug in SLUGS if _real(slug) for p in (CORPUS / slug).iterdir() if p.name not in _META
    ]
    kinds = {_kind(p.name) for p in real}
    assert len(real) >= 30, len(real)
    assert kinds == {"compose", "env", "markdown"}


@pytest.mark.parametrize("slug", SLUGS)
def test_compose_files(slug: str) -> None:
    d = CORPUS / slug
    expected = json.loads((d / "expected.json").read_text())
    dotenv_file = d / ".env"
    examples = [p.read_text() for p in _files(d, "env") if p.name != ".env"]
    variables = project_variables(
        dotenv_file.read_text() if dotenv_file.is_file() else None, examples
    )
    published: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for f in _files(d, "compose"):
        result = read(f.read_text(), f.name, variables)
        published += [
            {
                "file": f.name,
                "service": p.service,
                "port": p.port,
                "transport": p.transport,
                "host_ip": p.host_ip,
                "line": p.line,
            }
            for p in result.ports
        ]
        skipped += [
            {"file": f.name, "service": s.service, "line": s.line, "why": s.why}
            for s in result.skipped
        ]
    assert _sorted(published) == _sorted(expected["published"])
    got = _sorted(skipped)
    want = _sorted(expected["not_published"])
    assert [(s["file"], s["service"], s["line"]) for s in got] == [
        (e["file"], e["service"], e["line"]) for e in want
    ]
    for s, e in zip(got, want, strict=True):
        assert e["why"] in s["why"], (s, e)


@pytest.mark.parametrize("slug", SLUGS)
def test_env_files(slug: str) -> None:
    """Every key that carries a port, avoided ports included (`HTTPS_PORT=443`)."""
    d = CORPUS / slug
    files = _files(d, "env")
    expected = json.loads((d / "expected.json").read_text())
    assert ("env" in expected) == bool(files), "expected.json lists the env files' ports"
    got = [
        {"file": f.name, "key": e.key, "port": e.port, "line": e.line}
        for f in files
        for e in dotenv.ports(f.read_text())
    ]
    assert _sorted(got) == _sorted(expected.get("env", []))


@pytest.mark.parametrize("slug", SLUGS)
def test_markdown_tables(slug: str) -> None:
    """Every port of a hand-kept table, a cell with two ports giving two rows."""
    d = CORPUS / slug
    files = _files(d, "markdown")
    expected = json.loads((d / "expected.json").read_text())
    assert ("table" in expected) == bool(files), "expected.json lists the tables' ports"
    got = [
        {"file": f.name, "service": t.service, "port": t.port, "line": t.line}
        for f in files
        for t in markdown.table_ports(f.read_text())
    ]
    assert _sorted(got) == _sorted(expected.get("table", []))


# What the import command still loses on this corpus, until the model and merge of issue 10
# (items 1 and 2) land; strict, so the mark has to go when they do.
_IMPORT_GAPS = {}


def _import_case(slug: str) -> Any:
    gap = _IMPORT_GAPS.get(slug)
    return pytest.param(slug, marks=pytest.mark.xfail(strict=True, reason=gap)) if gap else slug


@pytest.mark.parametrize("slug", [_import_case(s) for s in SLUGS if _files(CORPUS / s, "compose")])
def test_import_records_or_names_every_published_port(slug: str, tmp_path: Path, run: Run) -> None:
    """The `import` command on a corpus project (its compose and env files together): each
    expected published port is in the registry, or a warning names its `FILE:LINE` (or its
    port, for a clash the merge reports per port); each entry that publishes none is named."""
    project = tmp_path / slug
    shutil.copytree(CORPUS / slug, project)
    files = [p.name for p in _files(project, "compose") + _files(project, "env")]
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
    for e in expected["published"]:
        if (e["port"], e["transport"]) not in recorded:
            named = f"{e['file']}:{e['line']}" in proc.stderr
            assert named or f"port {e['port']}" in proc.stderr, (e, proc.stderr)
    for e in expected["not_published"]:
        assert f"{e['file']}:{e['line']}" in proc.stderr, (e, proc.stderr)


def test_import_fills_compose_variables_from_env_example(tmp_path: Path, run: Run) -> None:
    """jitsi's `'${HTTP_PORT}:8000'` has no default: `env.example` (no dot), imported along,
    supplies the intended 8000 (and 8443), and the jigasi range
    `${JIGASI_PORT_MIN}-${JIGASI_PORT_MAX}` reads as 20000-20050."""
    project = tmp_path / "jitsi"
    shutil.copytree(CORPUS / "jitsi-meet", project)
    without = run("import", "docker-compose.yml", cwd=project)
    assert "docker-compose.yml:11" in without.stderr  # unset: an ephemeral port, named
    (project / "ports.toml").unlink()
    proc = run("import", "docker-compose.yml", "jigasi.yml", "env.example", cwd=project)
    assert proc.returncode in (0, 1), proc.stderr
    rows = json.loads(run("list", "--json", cwd=project).stdout)
    recorded = {
        (port, r["transport"])
        for r in rows
        for port in range(r["port"], (r["port_end"] or r["port"]) + 1)
    }
    assert {(8000, "tcp"), (8443, "tcp")} <= recorded
    assert "docker-compose.yml:11" not in proc.stderr
    # the range's last port is read (recorded, or named until the model holds ranges)
    assert (20050, "udp") in recorded or "jigasi.yml:9: jigasi: publishes 20050/udp" in proc.stderr


def test_import_records_a_variable_on_both_sides(tmp_path: Path, run: Run) -> None:
    project = tmp_path / "jitsi"
    shutil.copytree(CORPUS / "jitsi-meet", project)
    run("import", "docker-compose.yml", "env.example", cwd=project)
    rows = json.loads(run("list", "--json", cwd=project).stdout)
    assert (10000, "udp") in {(r["port"], r["transport"]) for r in rows}


@pytest.mark.parametrize(
    "slug",
    [s for s in SLUGS if len(_files(CORPUS / s, "compose") + _files(CORPUS / s, "env")) > 1],
)
def test_import_in_either_order_gives_the_same_registry(
    slug: str, tmp_path: Path, run: Run
) -> None:
    files = [p.name for p in _files(CORPUS / slug, "compose") + _files(CORPUS / slug, "env")]
    seen = []
    for n, order in enumerate((files, files[::-1])):
        project = tmp_path / f"{n}" / slug
        shutil.copytree(CORPUS / slug, project)
        proc = run("import", *order, cwd=project)
        rows = json.loads(run("list", "--json", cwd=project).stdout)
        ports = sorted((r["service"], r["port"], r["transport"], r["environment"]) for r in rows)
        seen.append((proc.returncode, ports))
    assert seen[0] == seen[1]
    assert seen[0][1], "the import recorded something"
