"""Per-worktree port blocks, kept host-wide in the leases' state file (`portreg.leases`).

The main worktree keeps the registered development ports. Every other worktree gets block N
(N = 1, 2, … per project, the lowest number free): one port per service with a development
port, picked by the registry's own rules — upward from the start of the assignment range by its
step — skipping every registered, reserved or avoided port, every port live on the host, and
every port another worktree of any project holds. A block is kept in the state (keyed by the
worktree's absolute path), so asking again gives the same ports; `prune` frees the blocks of
worktrees git no longer lists. Variables are `<SERVICE_ID_UPPER>_PORT` (`-`/`.` become `_`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from portreg.errors import PortregError

BEGIN = "# >>> portreg worktree >>>"
END = "# <<< portreg worktree <<<"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PortregError(f"not in a git worktree: {done.stderr.strip() or 'git failed'}")
    return done.stdout


def top_and_main(cwd: Path) -> tuple[Path, Path]:
    """This worktree's top directory and the main worktree's."""
    top = Path(git(cwd, "rev-parse", "--show-toplevel").strip()).resolve()
    common = Path(git(cwd, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())
    return top, common.resolve().parent


def listed(cwd: Path) -> set[str]:
    out = git(cwd, "worktree", "list", "--porcelain")
    return {
        str(Path(line[9:]).resolve()) for line in out.splitlines() if line.startswith("worktree ")
    }


def var_name(service_id: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in service_id.upper()) + "_PORT"


def pick_block(
    data: dict[str, Any],
    worktree: str,
    project: str,
    services: list[str],
    policy: Any,
    taken: set[int],
) -> tuple[int, dict[str, int]]:
    """The worktree's block: the kept one, else a new one (mutates `data`)."""
    blocks: dict[str, Any] = data.setdefault("worktrees", {})
    kept = blocks.get(worktree)
    if kept is not None and sorted(kept["ports"]) == sorted(services):
        return int(kept["block"]), dict(kept["ports"])
    held = {p for path, b in blocks.items() if path != worktree for p in b["ports"].values()}
    numbers = {b["block"] for path, b in blocks.items() if b["project"] == project}
    block = (
        kept["block"] if kept else next(n for n in range(1, len(numbers) + 2) if n not in numbers)
    )
    ports: dict[str, int] = {}
    port = policy.range_start
    for sid in services:
        while port in taken or port in held or port in ports.values():
            port += policy.step
        if port > policy.range_end:
            raise PortregError("no free ports left in the assignment range for this worktree")
        ports[sid] = port
        port += policy.step
    blocks[worktree] = {"project": project, "block": block, "ports": ports}
    return block, ports


def with_block(text: str, lines: list[str]) -> str:
    """`text` with the marked section replaced (or appended); the rest byte for byte."""
    section = "\n".join([BEGIN, *lines, END]) + "\n"
    start, end = text.find(BEGIN + "\n"), text.find(END + "\n")
    if start != -1 and end > start:
        return text[:start] + section + text[end + len(END) + 1 :]
    if text and not text.endswith("\n"):
        text += "\n"
    return text + section
