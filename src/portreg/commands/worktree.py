"""`worktree [--json|--shell]` and `worktree prune [--json]`: ports of one git worktree.

See `portreg.worktree` for how blocks are laid out. The main worktree reports block 0 and the
registered development ports, and its `.env` is left alone. JSON: `{"worktree", "block",
"ports"}`; prune: `{"freed": [{"worktree", "block", "ports"}, ...]}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portreg.environment import Environment
from portreg.views import Simple

if TYPE_CHECKING:
    import argparse


def run(env: Environment, args: argparse.Namespace) -> Simple:
    from portreg import worktree as wt
    from portreg.leases import locked_state

    if args.action == "prune":
        top, main = wt.top_and_main(env.cwd)
        alive = wt.listed(env.cwd)
        with locked_state() as data:
            blocks = data.setdefault("worktrees", {})
            gone = [p for p, b in blocks.items() if b["project"] == str(main) and p not in alive]
            freed: list[dict[str, Any]] = []
            for path in gone:
                b = blocks.pop(path)
                freed.append({"worktree": path, "block": b["block"], "ports": b["ports"]})
        text = tuple(f"freed {f['worktree']}: {sorted(f['ports'].values())}" for f in freed)
        return Simple(text=text or ("nothing to prune",), data={"freed": freed})

    from portreg.host import live_ports
    from portreg.store import load

    registry = load(env.registry_path())
    top, main = wt.top_and_main(env.cwd)
    services = sorted(s.id for s in registry.services.values() if s.port("development"))
    if top == main:
        block = 0
        ports = {sid: registry.services[sid].port("development") or 0 for sid in services}
    else:
        policy = registry.policy
        taken = registry.taken_ports() | set(policy.avoid)
        taken |= live_ports((policy.range_start, policy.range_end))
        with locked_state() as data:
            block, ports = wt.pick_block(data, str(top), str(main), services, policy, taken)
    lines = [f"{wt.var_name(sid)}={port}" for sid, port in ports.items()]
    if args.shell:
        return Simple(text=tuple(f"export {line}" for line in lines))
    if block:
        from portreg.store import atomic_write

        path = top / ".env"
        old = path.read_bytes().decode("utf-8", "surrogateescape") if path.exists() else ""
        new = wt.with_block(old, lines)
        if new != old:
            atomic_write(path, new)
    return Simple(text=tuple(lines), data={"worktree": str(top), "block": block, "ports": ports})
