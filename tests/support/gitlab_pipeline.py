"""A GitLab CI configuration read as GitLab reads it, for offline checks and a local pipeline.

``load`` follows ``include: local`` and resolves ``extends`` (hashes merged key by key, anything
else replaced: GitLab's rule), then drops the hidden jobs, giving the configuration GitLab would
run; ``write_merged`` saves it for ``check-jsonschema``, whose schema does not look into hidden
jobs. ``expand`` lists a job's ``parallel: matrix`` jobs under the names GitLab gives them
(``job: [v1, v2]``), and ``needed`` the jobs a ``needs:`` names. Only what the harness's
pipeline uses is supported; anything else fails loudly.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

GLOBAL_KEYWORDS = {
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
}


def _read(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe").load(path.read_text("utf-8"))
    assert isinstance(data, dict), f"{path} holds no mapping"
    return data


def _includes(config: dict[str, Any]) -> list[str]:
    items = config.get("include", [])
    items = items if isinstance(items, list) else [items]
    files = []
    for item in items:
        local = item if isinstance(item, str) else item.get("local")
        assert isinstance(local, str), f"only include: local is supported, not {item!r}"
        files.append(local.lstrip("/"))
    return files


def _raw(root: Path, file: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    assert file not in seen, f"{file} includes itself: {seen}"
    config = _read(root / file)
    merged: dict[str, Any] = {}
    for included in _includes(config):
        merged.update(_raw(root, included, (*seen, file)))
    # The including file's keys win over the included ones', as in GitLab.
    merged.update({k: v for k, v in config.items() if k != "include"})
    return merged


def _deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _deep_merge(base.get(key), value) if key in base else value
        return out
    return over


def _resolve(name: str, config: dict[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    assert name not in seen, f"extends loops: {(*seen, name)}"
    job = dict(config[name])
    parents = job.pop("extends", [])
    parents = parents if isinstance(parents, list) else [parents]
    resolved: dict[str, Any] = {}
    for parent in parents:
        assert parent in config, f"{name} extends {parent}, which no file defines"
        resolved = _deep_merge(resolved, _resolve(parent, config, (*seen, name)))
    return _deep_merge(resolved, job)


def load(root: Path, file: str = ".gitlab-ci.yml") -> dict[str, Any]:
    """The configuration GitLab would run: includes followed, extends resolved, no hidden jobs."""
    raw = _raw(root, file)
    config: dict[str, Any] = {}
    for key, value in raw.items():
        if key in GLOBAL_KEYWORDS:
            config[key] = value
        elif not key.startswith("."):
            config[key] = _resolve(key, raw)
    return config


def jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in config.items() if k not in GLOBAL_KEYWORDS}


def write_merged(root: Path, target: Path, file: str = ".gitlab-ci.yml") -> Path:
    # JSON is YAML: check-jsonschema reads either.
    target.write_text(json.dumps(load(root, file), indent=2), "utf-8")
    return target


def _permutations(matrix: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for row in matrix:
        keys = list(row)
        values = [v if isinstance(v, list) else [v] for v in row.values()]
        combos = itertools.product(*values)
        rows += [dict(zip(keys, map(str, combo), strict=True)) for combo in combos]
    return rows


def expand(name: str, job: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{GitLab's job name: the matrix variables}`` for each job ``name`` runs as."""
    matrix = (job.get("parallel") or {}).get("matrix")
    if matrix is None:
        return {name: {}}
    return {f"{name}: [{', '.join(row.values())}]": row for row in _permutations(matrix)}


def needed(job: dict[str, Any]) -> list[str]:
    """The names of the jobs ``job`` needs, each matrix job by its own name."""
    names = []
    for need in job.get("needs", []):
        if isinstance(need, str):
            names.append(need)
            continue
        matrix = (need.get("parallel") or {}).get("matrix")
        if matrix is None:
            names.append(need["job"])
        else:
            names += [f"{need['job']}: [{', '.join(r.values())}]" for r in _permutations(matrix)]
    return names
