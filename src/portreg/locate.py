"""Where the registry is: `--registry`, else `PORTREG_REGISTRY`, else the nearest ports.toml.

Apart from `portreg.store` so that a read served from the cache (`list`) finds the file
without importing the model and the TOML writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

FILENAME = "ports.toml"


def find_registry(
    cwd: Path, environ: Mapping[str, str], explicit: str | None = None
) -> Path | None:
    """`--registry`, else `PORTREG_REGISTRY`, else the nearest ports.toml walking up from cwd."""
    chosen = explicit or environ.get("PORTREG_REGISTRY")
    if chosen:
        return Path(chosen)
    for d in (cwd, *cwd.parents):
        candidate = d / FILENAME
        if candidate.is_file():
            return candidate
    return None
