"""Print the requirements of specbot (and of the extras named as arguments) from pyproject.toml.

The image installs these under `-c constraints.txt` in a layer of its own, before it copies
README.md and the code: that layer is rebuilt only when pyproject.toml or the lock changes.
    python requirements.py [EXTRA ...] > requirements.txt
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    out = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"requirements.py: no extra {extra!r} in {pyproject} (have: {', '.join(optional)})")
        out += optional[extra]
    return out


if __name__ == "__main__":
    here = Path.cwd() / "pyproject.toml"
    print("\n".join(requirements(here, [e for arg in sys.argv[1:] for e in arg.split(",") if e])))
