"""`portreg completion bash|zsh|fish`: a shell completion script; `__complete services` feeds it.

The script knows the subcommands and their options (taken from the parser when the script is
printed) and asks `portreg __complete services` for service names at completion time, so new
services complete without regenerating the script. zsh uses the bash function via bashcompinit.
"""

from __future__ import annotations

import argparse

from portreg.environment import Environment
from portreg.views import Simple

SERVICE_COMMANDS = ("show", "assign", "reserve", "release", "move", "add")


def _options() -> dict[str, list[str]]:
    from portreg.cli.parser import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out: dict[str, list[str]] = {}
    for name, p in sub.choices.items():
        if name.startswith("_"):
            continue
        out[name] = sorted({o for a in p._actions for o in a.option_strings})
    return out


def _bash(options: dict[str, list[str]]) -> str:
    cases = "\n".join(f'        {c}) opts="{" ".join(o)}" ;;' for c, o in options.items())
    return f"""# portreg bash completion: eval "$(portreg completion bash)"
_portreg() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} cmd="" i n=0 opts=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            --registry) ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=${{COMP_WORDS[i]}}; else ((n++)); fi ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "{" ".join(options)} --registry --help --version" -- "$cur"))
        return
    fi
    case $cmd in
{cases}
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ $n -eq 0 && " {" ".join(SERVICE_COMMANDS)} " == *" $cmd "* ]]; then
        COMPREPLY=($(compgen -W "$(portreg __complete services 2>/dev/null)" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -F _portreg portreg
"""


def _fish(options: dict[str, list[str]]) -> str:
    lines = [
        "# portreg fish completion: portreg completion fish | source",
        "complete -c portreg -f",
    ]
    for c in options:
        lines.append(f"complete -c portreg -n __fish_use_subcommand -a {c}")
    for c, opts in options.items():
        for o in opts:
            if o.startswith("--"):
                lines.append(f"complete -c portreg -n '__fish_seen_subcommand_from {c}' -l {o[2:]}")
    services = " ".join(SERVICE_COMMANDS)
    lines.append(
        f"complete -c portreg -n '__fish_seen_subcommand_from {services}' "
        "-a '(portreg __complete services 2>/dev/null)'"
    )
    return "\n".join(lines) + "\n"


def run(env: Environment, args: argparse.Namespace) -> Simple:
    options = _options()
    if args.shell == "bash":
        text = _bash(options)
    elif args.shell == "zsh":
        text = (
            '# portreg zsh completion: eval "$(portreg completion zsh)"\n'
            "autoload -U +X bashcompinit && bashcompinit\n" + _bash(options)
        )
    else:
        text = _fish(options)
    return Simple(text=(text.rstrip("\n"),))
