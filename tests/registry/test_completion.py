"""`portreg completion`: the bash script, driven by a real bash, completes commands and services;
and every option of every command has a help text."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from portreg import store
from portreg.model import Registry, Service
from tests.conftest import Run, portreg_cmd


def _complete(tmp_path: Path, script: str, words: list[str]) -> list[str]:
    bindir = Path(portreg_cmd()[0]).parent
    driver = (
        f"source {shlex.quote(script)}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_portreg\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTREG_")}
    env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", "--norc", "-c", driver],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [ln for ln in proc.stdout.splitlines() if ln]


def test_bash_completes_subcommands_options_and_service_names(tmp_path: Path, run: Run) -> None:
    store.create(
        tmp_path / "ports.toml",
        Registry(
            services={
                "api": Service("api", "API", {"development": 53000}),
                "billing-worker": Service("billing-worker", "B", {"development": 53001}),
                "billing-db": Service("billing-db", "D", {"development": 53002}),
            }
        ),
    )
    proc = run("completion", "bash")
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / "portreg.bash"
    script.write_text(proc.stdout)
    assert _complete(tmp_path, str(script), ["portreg", "re"]) == [
        "reserve",
        "release",
        "render",
        "refs",
    ]
    assert sorted(_complete(tmp_path, str(script), ["portreg", "show", "bil"])) == [
        "billing-db",
        "billing-worker",
    ]
    assert _complete(tmp_path, str(script), ["portreg", "move", "api", "--re"]) == [
        "--reason",
        "--registry",
    ]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_other_shells_get_a_script_naming_the_service_callback(run: Run, shell: str) -> None:
    proc = run("completion", shell)
    assert proc.returncode == 0, proc.stderr
    assert "portreg __complete services" in proc.stdout


def test_every_option_of_every_command_has_help() -> None:
    from portreg.cli.parser import build_parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, p in action.choices.items():
                    if not name.startswith("_"):
                        walk(p, f"{path} {name}")
            elif action.help in (None, "") and action.dest != "help":
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "portreg")
    assert missing == []
