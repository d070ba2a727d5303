"""Which requirements of ``install`` the runners reinstall from the working tree on every run."""

from __future__ import annotations

from pathlib import Path

from test_framework.runners.working_tree import copied_folders, reinstall_arguments


def project(folder: Path, name: str | None = "team-service") -> Path:
    folder.mkdir(parents=True)
    table = f'[project]\nname = "{name}"\n' if name else "[build-system]\n"
    (folder / "pyproject.toml").write_text(table)
    return folder


def test_the_project_and_its_folders_installed_as_copies_are_reinstalled(tmp_path: Path) -> None:
    root = project(tmp_path / "team")
    project(root / "services" / "api", "team-api")
    words = [".[test]", "services/api", "pytest>=8", "-r", "services/api", "--no-cache-dir"]
    found = copied_folders(words, root)
    assert [(f.word, f.folder, f.name) for f in found] == [
        (".[test]", root, "team-service"),
        ("services/api", root / "services" / "api", "team-api"),
    ]


def test_editable_folders_and_folders_outside_the_project_are_left_alone(tmp_path: Path) -> None:
    root = project(tmp_path / "team")
    project(root / "lib")
    harness = project(tmp_path / "harness", "mission-critical-harness")
    words = ["-e", ".", "--editable", "lib", "--editable=lib", str(harness), "../harness"]
    assert copied_folders(words, root) == []


def test_uv_rebuilds_the_named_folders_alone_and_pip_force_reinstalls_without_dependencies(
    tmp_path: Path,
) -> None:
    root = project(tmp_path / "team")
    named = copied_folders(["."], root)
    assert reinstall_arguments(named, uv=True) == [
        "--no-deps",
        "--reinstall-package",
        "team-service",
        str(root),
    ]
    assert reinstall_arguments(named, uv=False) == ["--no-deps", "--force-reinstall", str(root)]
    unnamed = project(root / "legacy", None)
    found = copied_folders(["legacy"], root)
    assert reinstall_arguments(found, uv=True) == ["--no-deps", "--force-reinstall", str(unnamed)]
