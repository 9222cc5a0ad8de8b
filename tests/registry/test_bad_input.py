"""Bad input: one `error:` line, exit 2, no traceback, every file byte-for-byte unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import Run, assert_one_line_error, portreg_cmd
from tests.registry._helpers import fingerprint


@pytest.fixture
def registry(run: Run, tmp_path: Path) -> Path:
    assert run("init", "--project", "bad-input").returncode == 0
    assert run("add", "API Server", "--port", "54000", "--protocol", "http").returncode == 0
    assert run("reserve", "monitoring", "--port", "54002").returncode == 0
    return tmp_path / "ports.toml"


@pytest.mark.parametrize(
    "args",
    [
        ("add", "x", "--port", "0"),
        ("add", "x", "--port", "65536"),
        ("add", "x", "--port", "abc"),
        ("add", "x", "--port", "-5"),
        ("add", "x", "--port", "54000"),  # duplicate: registered to api-server
        ("add", "x", "--port", "54002"),  # reserved for monitoring
        ("add", "!!!", "--port", "54010"),  # a name with no letter or digit
        ("assign", "api\nserver"),  # a newline from a shell substitution, not api-server
        ("reserve", "x" * 101),
        ("add", "x"),  # --port missing
        ("check", "abc"),
        ("check", "0"),
        ("who", "65536"),
        ("show", "nope"),
        ("release", "nope"),
        ("assign", ""),
        ("reserve", "api-server"),  # already active
        ("list", "--bogus"),
        ("bogus",),
        ("init",),  # exists already
        ("init", "--range", "5-1"),
        ("scan", "--range", "1-99999"),
        ("audit", "--fail-on", "never"),
        ("import", "missing.md"),
        ("import", "."),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    run: Run, registry: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    before = fingerprint(tmp_path)
    proc = run(*args)
    assert_one_line_error(proc)
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x00\x01\x02PNG\x00" * 50, "binary"),
        (b"\xff\xfe\xfa not utf8", "UTF-8"),
    ],
)
def test_import_of_empty_or_binary_files(
    run: Run, registry: Path, tmp_path: Path, content: bytes, fragment: str
) -> None:
    (tmp_path / "page.md").write_bytes(content)
    before = fingerprint(tmp_path)
    proc = run("import", "page.md")
    assert_one_line_error(proc)
    assert fragment in proc.stderr
    assert fingerprint(tmp_path) == before


def test_corrupt_registry_names_the_line(run: Run, registry: Path, tmp_path: Path) -> None:
    lines = registry.read_text().splitlines()
    lines.insert(5, "this is = = not toml")
    registry.write_text("\n".join(lines) + "\n")
    before = fingerprint(tmp_path)
    for args in (("list",), ("assign", "x"), ("show", "api-server"), ("check", "53000")):
        proc = run(*args)
        assert_one_line_error(proc)
        assert "line 6" in proc.stderr, proc.stderr
    assert fingerprint(tmp_path) == before


def test_semantically_wrong_registry_names_the_key(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    registry.write_text(registry.read_text().replace("54000", "99999"))
    proc = run("list")
    assert_one_line_error(proc)
    assert "services.api-server.ports.development" in proc.stderr


def test_missing_registry(run: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (("list",), ("assign", "x"), ("show", "x")):
        proc = run(*args, cwd=empty)
        assert_one_line_error(proc)
        assert "no ports.toml" in proc.stderr
    proc = run("--registry", str(tmp_path / "nope.toml"), "list")
    assert_one_line_error(proc)
    assert "nope.toml" in proc.stderr
    assert list(empty.iterdir()) == []


def test_registry_is_a_directory_or_binary(run: Run, tmp_path: Path) -> None:
    (tmp_path / "bin.toml").write_bytes(b"\x00\xff\x00")
    proc = run("--registry", "bin.toml", "list")
    assert_one_line_error(proc)
    proc = run("--registry", str(tmp_path), "list")
    assert_one_line_error(proc)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_unwritable_registry_directory_is_one_line_and_changes_nothing(run: Run) -> None:
    """Run as `nobody` on a root-owned registry: the write is refused by the kernel."""
    directory = Path(tempfile.mkdtemp(prefix="portreg-ro-"))
    try:
        directory.chmod(0o755)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        probe = [*nobody, *portreg_cmd(), "--version"]
        if subprocess.run(probe, cwd=directory, capture_output=True, check=False).returncode:
            pytest.skip("nobody cannot run portreg from this checkout")
        assert run("init", cwd=directory).returncode == 0
        path = directory / "ports.toml"
        path.chmod(0o644)
        before = path.read_bytes()
        proc = subprocess.run(
            [*nobody, *portreg_cmd(), "assign", "x"],
            cwd=directory, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert_one_line_error(proc)
        assert "cannot write" in proc.stderr and "Permission denied" in proc.stderr
        assert path.read_bytes() == before
        assert sorted(p.name for p in directory.iterdir()) == ["ports.toml"]
    finally:
        shutil.rmtree(directory)


def test_a_last_audit_at_the_end_of_the_calendar_is_refused_on_reading(
    run: Run, registry: Path, tmp_path: Path
) -> None:
    """`last_audit = 9999-12-31` makes the next audit overflow the calendar: the reader says
    so in one line, before audit or render can fall over on the date arithmetic."""
    text = registry.read_text()
    assert "[policy]\n" in text
    registry.write_text(text.replace("[policy]\n", "[policy]\nlast_audit = 9999-12-31\n", 1))
    before = fingerprint(tmp_path)
    for args in (("audit",), ("render", "--format", "json"), ("list",)):
        proc = run(*args)
        assert_one_line_error(proc)
        assert "last_audit 9999-12-31 is too late" in proc.stderr, proc.stderr
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize("key", ["odd/key", "q?x", "frag#y", "two words", "pct%20", "a:b"])
def test_a_service_id_no_door_can_address_is_refused(
    run: Run, registry: Path, tmp_path: Path, key: str
) -> None:
    """An id is a path segment of `/services/{id}` and `SERVICE:NAME` on the command line."""
    registry.write_text(
        registry.read_text()
        + f'\n[services."{key}"]\nname = "x"\nports = {{development = 53999}}\n'
    )
    before = fingerprint(tmp_path)
    proc = run("list")
    assert_one_line_error(proc)
    assert "an id holds no space" in proc.stderr and key in proc.stderr
    assert fingerprint(tmp_path) == before
