"""Installed size of each image target's Python packages, from the packages installed here.

    .venv/bin/python deploy/image_sizes.py

Walks the requirement closure of specbot's dependencies plus each target's extras through the
installed distributions' metadata and adds up their files. It counts what pip puts in
/opt/venv, not the base image (python:3.11-slim, ~125 MB) or Debian packages. torch is counted
as installed here (the CPU build); the `train` image gets PyPI's CUDA build, several GB more.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parent))
from requirements import requirements

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "runtime": [],
    "runtime + embedded-index": ["embedded-index"],
    "embedder": ["embedder"],
    "cpu": ["cpu"],
    "train": ["train"],
}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(reqs: list[str]) -> dict[str, metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo = [(Requirement(r), frozenset()) for r in reqs]
    while todo:
        req, extras = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
            continue
        key = norm(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        if key in seen and not req.extras:
            continue
        seen[key] = dist
        for sub in dist.requires or []:
            todo.append((Requirement(sub), frozenset(req.extras)))
    return seen


def size(dist: metadata.Distribution) -> int:
    total = 0
    for f in dist.files or []:
        p = Path(str(dist.locate_file(f)))
        if p.is_file():
            total += p.stat().st_size
    return total


def main() -> None:
    print("| target | packages | installed size | largest |")
    print("|---|---|---|---|")
    for target, extras in TARGETS.items():
        dists = closure(requirements(ROOT / "pyproject.toml", extras))
        sizes = sorted(((size(d), name) for name, d in dists.items()), reverse=True)
        total = sum(s for s, _ in sizes)
        top = ", ".join(f"{n} {s / 2**20:.0f} MB" for s, n in sizes[:3])
        print(f"| {target} | {len(dists)} | {total / 2**20:.0f} MB | {top} |")


if __name__ == "__main__":
    main()
