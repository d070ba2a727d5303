"""What code a run tested: the fingerprint of the project's checkout, and whether the installed
copy of the project it imported is the working tree's.

The plugin records a ``CodeRecord`` in every ledger of a run; the gate compares its fingerprint
with that of the checkout the gate runs in (the ``STALE CODE`` rule). Standard library only: the
gate runs it before, and outside, any session's environment. docs/ledger.md says why the
fingerprint is git's commit and the diff of the tracked files.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import subprocess
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from test_framework.settings_table import CODE_ROOT

CODE_ROOT_ENV = CODE_ROOT.env
GIT_TIMEOUT_S = 10.0
# Where a file of an installed distribution (its path relative to site-packages) may be in the
# project's folder: flat and src layouts.
_LAYOUTS = ("", "src")


@dataclass(frozen=True)
class Fingerprint:
    """A checkout's code: ``git:<commit>``, and ``+dirty:<digest>`` (SHA-256 of the diff of the
    tracked files against that commit) when they differ from it; or why there is none."""

    source: str | None
    checkout: str | None
    missing: str | None = None  # why ``source`` is None


@dataclass(frozen=True)
class CodeRecord:
    """The ``code`` of a ledger: the checkout's fingerprint when the run started, and the
    project as the environment that ran the suite had it installed."""

    source: str | None
    checkout: str | None
    source_missing: str | None = None
    project: str | None = None  # [project] name in the project's pyproject.toml
    version: str | None = None  # installed version; None: not installed (imported from the tree)
    editable: bool | None = None
    # Why the installed copy was not the working tree's when the run started, or None.
    stale_install: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "checkout": self.checkout,
            "source_missing": self.source_missing,
            "project": self.project,
            "version": self.version,
            "editable": self.editable,
            "stale_install": self.stale_install,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodeRecord:
        return cls(
            source=data.get("source"),
            checkout=data.get("checkout"),
            source_missing=data.get("source_missing"),
            project=data.get("project"),
            version=data.get("version"),
            editable=data.get("editable"),
            stale_install=data.get("stale_install"),
        )


def fingerprint(folder: Path) -> Fingerprint:
    """The fingerprint of the git checkout holding ``folder``. Two git commands, which read
    only the files whose stat differs from the index: fast on any size of checkout. Untracked
    files do not count (a report folder, a CI job's downloaded artifacts)."""
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        return Fingerprint(None, None, f"{folder} is not in a git checkout (or git is missing)")
    commit = _git(folder, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if commit is None:
        return Fingerprint(None, top, f"the git checkout {top} has no commit yet")
    diff = _git_bytes(
        Path(top),
        "diff",
        "HEAD",
        "--binary",
        "--full-index",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
    )
    if diff is None:
        return Fingerprint(None, top, f"git diff HEAD failed in {top}")
    source = f"git:{commit}"
    if diff:
        source += f"+dirty:{hashlib.sha256(diff).hexdigest()[:16]}"
    return Fingerprint(source, top)


def code_root(default: Path, environ: dict[str, str]) -> Path:
    """The folder whose code a run tests: ``MC_CODE_ROOT`` (the contract command sets it to the
    folder it runs in), else ``default`` (the project's folder)."""
    given = environ.get(CODE_ROOT_ENV)
    return Path(given) if given else default


def record(root: Path, *, check_install: bool) -> CodeRecord:
    """What a run starting now in this interpreter tests, for the project in ``root``; with
    ``check_install``, whether the project's installed copy is the working tree's."""
    found = fingerprint(root)
    name = project_name(root)
    base = CodeRecord(found.source, found.checkout, found.missing, project=name)
    if name is None:
        return base
    dist = _installed(name)
    if dist is None:
        return base
    editable, location = _direct_url(dist)
    stale = _stale_install(dist, root, editable, location) if check_install else None
    return CodeRecord(
        found.source,
        found.checkout,
        found.missing,
        project=name,
        version=dist.version,
        editable=editable,
        stale_install=stale,
    )


def _installed(name: str) -> importlib.metadata.Distribution | None:
    """The distribution ``name`` as an installer installed it (it wrote a RECORD): not the
    ``*.egg-info`` a build leaves in a source folder, which ``sys.path`` may show first."""
    for dist in importlib.metadata.distributions(name=name):
        if dist.read_text("RECORD") is not None:
            return dist
    return None


def _imported_from_tree(top: str, root: Path) -> bool:
    """Whether this interpreter imports the top-level module ``top`` from ``root`` (the project's
    folder first on ``sys.path``), whatever copy is installed."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.origin:
        return False
    origin = Path(spec.origin).resolve()
    # The tree's own module or package, not merely below the project's folder (a .nox or
    # .venv environment is there too).
    for layout in _LAYOUTS:
        place = (root / layout / top).resolve()
        if origin == place.with_name(top + ".py") or place in origin.parents:
            return True
    return False


def _stale_install(
    dist: importlib.metadata.Distribution, root: Path, editable: bool, location: Path | None
) -> str | None:
    """Why the installed ``dist`` is not ``root``'s working tree, or None when it is."""
    if location is not None and location.resolve() != root.resolve():
        how = "editable" if editable else "a copy"
        return f"it is installed ({how}) from {location}, not from {root}"
    if editable:
        return None
    differs = []
    for file in dist.files or ():
        if file.hash is None or file.hash.mode != "sha256" or file.parts[0] == "..":
            continue
        relative = Path(*file.parts)
        for layout in _LAYOUTS:
            candidate = root / layout / relative
            if candidate.is_file():
                if _record_hash(candidate) != file.hash.value:
                    differs.append(relative.as_posix())
                break
    # What the tree shadows is not what ran: the tree's own files did.
    differs = [f for f in differs if not _imported_from_tree(f.split("/")[0], root)]
    if not differs:
        return None
    shown = ", ".join(differs[:3]) + (f" and {len(differs) - 3} more" if len(differs) > 3 else "")
    return f"its installed copy differs from the working tree in {shown}"


def _record_hash(path: Path) -> str:
    """A file's hash as a wheel's RECORD writes it: urlsafe base64 SHA-256, no padding."""
    digest = hashlib.sha256(path.read_bytes()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _direct_url(dist: importlib.metadata.Distribution) -> tuple[bool, Path | None]:
    """Whether ``dist`` is installed editable, and the local folder it was installed from
    (PEP 610's direct_url.json; None for a wheel from an index)."""
    text = dist.read_text("direct_url.json")
    if not text:
        return False, None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False, None
    editable = bool((data.get("dir_info") or {}).get("editable", False))
    url = urllib.parse.urlsplit(str(data.get("url", "")))
    if url.scheme != "file" or "dir_info" not in data:
        return editable, None
    return editable, Path(urllib.parse.unquote(url.path))


def project_name(root: Path) -> str | None:
    """The ``[project]`` name in ``root``'s ``pyproject.toml``, or None."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        project = tomllib.loads(path.read_text("utf-8")).get("project", {})
    except tomllib.TOMLDecodeError:
        return None  # the settings report the broken file
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) else None


def _git(folder: Path, *args: str) -> str | None:
    output = _git_bytes(folder, *args)
    return None if output is None else output.decode("utf-8", "replace").strip() or None


def _git_bytes(folder: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
