"""The settings table is the one definition of every setting: settings loading honours each
entry from pyproject.toml, the environment and the command line in that rising order; the
gate reads the required modes the same way; no module spells a variable's name itself; the
README's settings tables are generated from it, and the error catalogue is checked against it.

``python -m tests.framework.test_settings_table`` rewrites the README's generated tables.
"""

from __future__ import annotations

import ast
import functools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from test_framework.modes import ALL_MODES, Mode
from test_framework.profiles import FIELDS
from test_framework.results import gate
from test_framework.settings import Settings, load_settings
from test_framework.settings_table import (
    PROFILE,
    PROFILE_OPTION,
    SETTINGS,
    Floor,
    Kind,
    Setting,
)
from tests.resilience.test_error_catalogue import CASES

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PACKAGE = ROOT / "test_framework"

# The settings load_settings reads (the others name the module that reads them).
LOADED = tuple(s for s in SETTINGS if not s.profile and not s.read_by)


# -- precedence ----------------------------------------------------------------------------


# Three values of each kind, different from each other and from the defaults, as text (the
# environment and the command line), as written in pyproject.toml, and as Settings holds it.
def _samples(tmp: Path) -> dict[Kind, list[tuple[str, Any, Any]]]:
    for name in ("a.pem", "b.pem", "c.pem"):
        (tmp / name).write_text("not checked here\n", "utf-8")
    return {
        Kind.MODE: [(m.value, m.value, m) for m in ALL_MODES],
        Kind.MODES: [
            ("minimal", ["minimal"], (Mode.MINIMAL,)),
            (
                "docker_local,minimal",
                ["docker_local", "minimal"],
                (Mode.DOCKER_LOCAL, Mode.MINIMAL),
            ),
            ("staging_fallback", ["staging_fallback"], (Mode.STAGING_FALLBACK,)),
        ],
        Kind.FOLDER: [(f, f, tmp / f) for f in ("one", "two", "three")],
        Kind.TEXT: [(t, t, t) for t in ("one", "two", "three")],
        Kind.SECRET: [(t, t, t) for t in ("s-one", "s-two", "s-three")],
        Kind.LINES: [("", ["one"], ("one",)), ("", ["two", "2"], ("two", "2")), ("", [], ())],
        Kind.BOOL: [("no", False, False), ("off", False, False), ("false", False, False)],
        Kind.SECONDS: [("7", 7, 7.0), ("8.5", 8.5, 8.5), ("9", 9.0, 9.0)],
        Kind.WS_URL: [(u, u, u) for u in ("ws://a:1/ws", "wss://b/ws", "ws://c:3/ws")],
        Kind.HTTP_URL: [(u, u, u) for u in ("http://a:1", "https://b", "http://c:3")],
        Kind.FILE: [(str(tmp / n), str(tmp / n), tmp / n) for n in ("a.pem", "b.pem", "c.pem")],
        Kind.DOCKER_ADDRESS: [(u, u, u) for u in ("unix:///a", "tcp://b:2375", "unix:///c")],
    }


def _attribute(settings: Settings, setting: Setting) -> Any:
    return functools.reduce(getattr, setting.name.split("."), settings)


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _where(setting: Setting) -> Iterator[str]:
    yield from ("pyproject",) if setting.pyproject else ()
    yield from ("environment",) if setting.env else ()
    yield from ("option",) if setting.option else ()


@pytest.mark.parametrize("setting", LOADED, ids=[s.name for s in LOADED])
def test_each_setting_is_read_from_every_place_the_table_gives_the_highest_one_winning(
    setting: Setting, tmp_path: Path
) -> None:
    samples = _samples(tmp_path)[setting.kind]
    if setting.kind is Kind.BOOL:  # two values only: the one that is not the default
        flipped = setting.default != "true"
        samples = [(str(flipped).lower(), flipped, flipped)]
    places = list(_where(setting))
    # Each place in rising precedence gets its own value; then drop the highest, and again.
    for top in range(len(places), 0, -1):
        given = dict(zip(places[:top], samples, strict=False))
        section = ""
        if "pyproject" in given:
            section = f"{setting.pyproject} = {_toml(given['pyproject'][1])}\n"
        (tmp_path / "pyproject.toml").write_text(f"[tool.test_framework]\n{section}", "utf-8")
        environ = {setting.env: given["environment"][0]} if "environment" in given else {}
        options = {setting.name: given["option"][0]} if "option" in given else {}
        settings = load_settings(tmp_path, environ, options)
        expected = given[places[top - 1]][2]
        assert _attribute(settings, setting) == expected, places[top - 1]


@pytest.mark.parametrize("setting", PROFILE, ids=[s.name for s in PROFILE])
def test_each_profile_setting_is_read_per_mode_then_from_its_variable_then_the_option(
    setting: Setting, tmp_path: Path
) -> None:
    field = FIELDS[setting.name]

    def value(settings: Settings) -> object:
        profile = settings.profile(Mode.MINIMAL)
        holder = getattr(profile, field.group) if field.group else profile
        return getattr(holder, field.attr)

    table = f"[tool.test_framework.profiles.minimal]\n{setting.name} = 3\n"
    (tmp_path / "pyproject.toml").write_text(table, "utf-8")
    assert value(load_settings(tmp_path, {})) == 3
    assert value(load_settings(tmp_path, {setting.env: "4"})) == 4
    options = {f"profile.{setting.name}": "5"}
    assert value(load_settings(tmp_path, {setting.env: "4"}, options)) == 5


def _default(setting: Setting, root: Path) -> Any:
    text = setting.default
    converted: dict[Kind, Callable[[], Any]] = {
        Kind.MODE: lambda: None if text == "auto" else Mode(text),
        Kind.MODES: lambda: (),
        Kind.FOLDER: lambda: root / text,
        Kind.LINES: lambda: (text,),
        Kind.BOOL: lambda: text == "true",
        Kind.SECONDS: lambda: float(text),
    }
    return converted.get(setting.kind, lambda: text or None)()


@pytest.mark.parametrize("setting", LOADED, ids=[s.name for s in LOADED])
def test_the_tables_default_is_what_a_project_without_settings_gets(
    setting: Setting, tmp_path: Path
) -> None:
    settings = load_settings(tmp_path, environ={})
    assert _attribute(settings, setting) == _default(setting, tmp_path)
    assert _attribute(Settings(root=tmp_path), setting) in (
        _default(setting, tmp_path),
        _default(setting, Path()),
    )


# -- the gate ------------------------------------------------------------------------------

GATE_CASES = [
    (option, env, pyproject)
    for option in (None, "docker_local")
    for env in (None, "staging_fallback", "")
    for pyproject in (None, ["minimal"])
]


@pytest.mark.parametrize(("option", "env", "pyproject"), GATE_CASES)
def test_the_gate_reads_the_required_modes_as_the_mode_sessions_do(
    option: str | None,
    env: str | None,
    pyproject: list[str] | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    section = f"required_modes = {_toml(pyproject)}\n" if pyproject is not None else ""
    (tmp_path / "pyproject.toml").write_text(f"[tool.test_framework]\n{section}", "utf-8")
    monkeypatch.delenv("MC_REQUIRED_MODES", raising=False)
    if env is not None:
        monkeypatch.setenv("MC_REQUIRED_MODES", env)
    options = {"required_modes": option} if option is not None else {}
    sessions = load_settings(tmp_path, os.environ, options).required_modes
    assert gate.required_modes(option, tmp_path) == tuple(m.value for m in sessions)


# -- one definition ------------------------------------------------------------------------

VARIABLES = {s.env for s in SETTINGS if s.env}
# Where a variable's name is spelt outside the table, and why that is not a second definition.
SPELT_ELSEWHERE = {
    # The compose file's own variable, written for it (docker/*.yml reads ${MC_BASE_IMAGE}).
    ("backends/docker.py", "MC_BASE_IMAGE"),
    # Written for the docker CLI and Compose, with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
    ("engine/daemon_address.py", "DOCKER_HOST"),
    # The CI files `init` writes for a team: their own text, naming the variables they set.
    *(
        ("scaffold/templates.py", name)
        for name in (
            "MC_SHARDS",
            "MC_REQUIRED_MODES",
            "MC_REPORT_DIR",
            "MC_INVOCATION_ID",
            "STAGING_WEBSOCKET_URL",
            "STAGING_TEST_USER",
            "STAGING_TEST_PASSWORD",
            "STAGING_AUTH_TOKEN",
        )
    ),
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def spelt_variables() -> set[tuple[str, str]]:
    """(module, variable) for every string in the package's code naming a table variable."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module == "settings_table.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or id(node) in docstrings:
                continue
            if isinstance(node.value, str):
                words = set(re.findall(r"[A-Z][A-Z0-9_]*[A-Z0-9]", node.value))
                found.update((module, name) for name in words & VARIABLES)
    return found


def test_no_module_spells_a_settings_variable_but_the_table() -> None:
    assert spelt_variables() <= SPELT_ELSEWHERE


def test_the_table_names_each_variable_pyproject_key_and_option_once() -> None:
    for attribute in ("name", "env", "pyproject"):
        names = [getattr(s, attribute) for s in SETTINGS if getattr(s, attribute)]
        assert len(names) == len(set(names)), attribute
    options = [s.option for s in SETTINGS if s.option and s.option != PROFILE_OPTION]
    assert len(options) == len(set(options))


# -- the README ----------------------------------------------------------------------------

BEGIN = "<!-- begin settings: generated from test_framework/settings_table.py -->"
END = "<!-- end settings -->"
BEGIN_PROFILE = "<!-- begin profile settings: generated from test_framework/settings_table.py -->"
END_PROFILE = "<!-- end profile settings -->"


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def render_settings() -> str:
    rows = [
        "| variable | `[tool.test_framework]` | option | default | accepts | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        if s.profile:
            continue
        option = _code(s.option)
        if s.option and s.read_by:
            option += f" of `{s.read_by}`"
        rows.append(
            f"| {_code(s.env)} | {_code(s.pyproject)} | {option} | {_code(s.default)}"
            f" | {s.accepts} | {s.help} |"
        )
    example = PROFILE[1]
    rows.append(
        f"| `MC_<SETTING>` | `profiles.<mode>.<setting>` | `{PROFILE_OPTION} <setting>=VALUE` |"
        " per mode | the profile table above | a profile setting, for every mode from the variable"
        f" or the option, e.g. `{example.env}=20` |"
    )
    return "\n".join([BEGIN, *rows, END])


def render_profile() -> str:
    rows = ["| setting | variable | accepts | what |", "| --- | --- | --- | --- |"]
    rows += [f"| `{s.name}` | `{s.env}` | {s.accepts} | {s.help} |" for s in PROFILE]
    return "\n".join([BEGIN_PROFILE, *rows, END_PROFILE])


def rendered(text: str) -> str:
    """``text`` with each generated block rewritten from the table."""
    for begin, end, render in (
        (BEGIN, END, render_settings),
        (BEGIN_PROFILE, END_PROFILE, render_profile),
    ):
        start, stop = text.index(begin), text.index(end) + len(end)
        text = text[:start] + render() + text[stop:]
    return text


def test_the_readme_settings_tables_are_generated_from_the_table() -> None:
    text = README.read_text("utf-8")
    assert rendered(text) == text, (
        "README.md's settings are out of date: run python -m tests.framework.test_settings_table"
    )


def test_every_readme_variable_is_a_setting_of_the_table() -> None:
    """A variable the README documents outside the generated tables is still one of the table's
    (or one the plugin sets for older tests)."""
    written_for_tests = {"TEST_WEBSOCKET_URL", "REAL_SERVICES", "USE_STAGING_SERVICES"}
    text = README.read_text("utf-8")
    spelt = {
        word.strip("`,.()=")
        for word in text.split()
        if word.startswith(("`MC_", "`STAGING_", "`TEST_", "`USE_", "`FORCE_", "`DOCKER_"))
    }
    spelt = {w.split("=")[0] for w in spelt if "<" not in w and "*" not in w}
    assert spelt - VARIABLES - written_for_tests == set()


# -- the error catalogue -------------------------------------------------------------------

# Kinds whose values the harness can refuse (text, secrets and lines are taken as given).
REFUSING = {
    Kind.MODE,
    Kind.MODES,
    Kind.FOLDER,
    Kind.BOOL,
    Kind.SECONDS,
    Kind.WS_URL,
    Kind.HTTP_URL,
    Kind.FILE,
    Kind.DOCKER_ADDRESS,
}


def test_every_variable_that_can_be_refused_has_a_case_in_the_error_catalogue() -> None:
    refused = {
        s.env for s in SETTINGS if s.env and s.kind in REFUSING and not s.profile and not s.read_by
    }
    covered = {name for case in CASES for name in case.env if f"{name}=" in case.message}
    assert refused - covered == set()


def test_every_least_value_of_a_profile_setting_has_a_case_in_the_error_catalogue() -> None:
    refusals = [case.message for case in CASES]
    for floor in Floor:
        assert any(f"must be {floor.value}" in message for message in refusals), floor


def test_the_error_catalogue_sets_only_the_tables_variables_and_options() -> None:
    options = {s.option for s in SETTINGS if s.option}
    for case in CASES:
        assert set(case.env) <= VARIABLES, case.name
        given = {a for a in case.args if a.startswith("--mc-")}
        assert given <= options, case.name


if __name__ == "__main__":
    README.write_text(rendered(README.read_text("utf-8")), "utf-8")
