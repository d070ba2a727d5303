"""The service adapter read from [tool.test_framework.service]: preset, defaults, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.errors import ConfigError
from test_framework.service import (
    KEYS,
    AuthKind,
    ServiceSettings,
    StartKind,
    fill,
    parse_service,
)
from test_framework.settings import load_settings

SOURCE = Path("/project/pyproject.toml")


def test_without_a_preset_the_defaults_are_generic() -> None:
    service = parse_service({"factory": "chat.testing:start"}, SOURCE)
    assert service == ServiceSettings(factory="chat.testing:start")
    assert (service.health_path, service.auth_kind) == ("", AuthKind.NONE)
    assert (service.token_via, service.ready_message, service.protocol_ping) == (
        "header",
        "",
        False,
    )


def test_the_agent_events_preset_gives_the_protocols_values() -> None:
    service = parse_service({"preset": "agent-events"}, SOURCE)
    assert service == ServiceSettings(
        preset="agent-events",
        ws_path="/ws",
        health_path="/health",
        health_status_ok=True,
        auth="token_endpoint",
        auth_path="/auth",
        ready_message="connection_ready",
        protocol_ping=True,
    )
    assert service.auth_kind is AuthKind.TOKEN_ENDPOINT


def test_explicit_keys_override_the_preset() -> None:
    service = parse_service(
        {"preset": "agent-events", "health_path": "", "auth": "bearer", "token_via": "query"},
        SOURCE,
    )
    assert service.health_path == ""
    assert service.auth_kind is AuthKind.BEARER
    assert service.token_via == "query"
    assert service.ready_message == "connection_ready"


def test_a_module_function_names_the_function_auth_kind() -> None:
    service = parse_service({"auth": "chat.testing:auth"}, SOURCE)
    assert service.auth_kind is AuthKind.FUNCTION


def test_no_service_table_means_nothing_to_start(tmp_path: Path) -> None:
    service = load_settings(tmp_path, environ={}).service
    assert service.factory == ""
    assert service.compose_file == ""


def test_this_repository_uses_the_agent_events_preset() -> None:
    service = load_settings(Path(__file__).parent, environ={}).service
    assert service.preset == "agent-events"
    assert service.factory == "agent_backend.testing:start_in_process"
    assert service.compose_file == "docker/docker-compose.alpine-test.yml"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"factroy": "x:y"}, "unknown key(s) factroy in [tool.test_framework.service]: use"),
        ({"preset": "agent_events"}, "preset = 'agent_events' is unknown: use 'agent-events'"),
        ({"auth": "oauth"}, "auth = 'oauth' is unknown: use none, bearer, token_endpoint,"),
        ({"auth": "chat.testing:"}, "auth = 'chat.testing:' is not 'module:function'"),
        ({"token_via": "cookie"}, "token_via = 'cookie' is unknown: use 'header' or 'query'"),
        ({"ws_path": "ws"}, "ws_path = 'ws' must start with '/'"),
        ({"health_path": "health"}, "health_path = 'health' must start with '/' (or be \"\""),
        ({"container_port": 70000}, "container_port = 70000 is not a port: give 1 to 65535"),
        ({"protocol_ping": "yes"}, "protocol_ping must be a boolean, not 'yes'"),
        ({"container_port": True}, "container_port must be an integer, not True"),
        (
            {"command": "node s.js", "factory": "m:start"},
            "sets factory and command: minimal mode starts the service one way, keep one",
        ),
        ({"command": "node s.js", "asgi_app": "m:app"}, "sets command and asgi_app"),
        ({"command": ""}, "command is empty: give the command, e.g. 'node server.js'"),
        ({"command": "node 'unbalanced"}, 'command = "node \'unbalanced" cannot be split'),
        ({"command": ["node", 3]}, "command must be a string or a list of strings, not"),
        ({"command": "node --port={prot}"}, "command: unknown placeholder {prot} in"),
        ({"command": "node", "command_env": {"PORT": 8080}}, "command_env PORT must be a string"),
        ({"command": "node", "command_env": {"A-B": "x"}}, "'A-B' is not an environment variable"),
        ({"command": "node", "command_env": {"T": "{tokn}"}}, "unknown placeholder {tokn}"),
        (
            {"factory": "m:start", "command_env": {"T": "x"}},
            "command_env needs command or asgi_app",
        ),
        ({"command_cwd": "svc"}, "command_cwd needs command or asgi_app"),
        ({"asgi_app": "main"}, "asgi_app = 'main' is not 'module:attribute'"),
        ({"command": "node", "ready_log": "(unclosed"}, "ready_log = '(unclosed' is not a regular"),
        ({"command": "node", "ready_timeout_s": 0}, "ready_timeout_s = 0 must be more than 0"),
        ({"command": "node", "stop_timeout_s": -1}, "stop_timeout_s = -1 must be more than 0"),
        ({"command": "node", "ready_timeout_s": "60"}, "ready_timeout_s must be a number, not"),
    ],
)
def test_a_bad_key_or_value_is_refused_in_one_line_naming_the_key_and_the_fix(
    table: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_service(table, SOURCE)
    text = str(caught.value)
    assert message in text
    assert text.startswith(f"{SOURCE}: ")
    assert "\n" not in text


def test_every_key_is_documented() -> None:
    documented = (Path(__file__).parents[2] / "docs" / "service.md").read_text("utf-8")
    missing = [key for key in KEYS if f"`{key}`" not in documented]
    assert not missing


def test_a_command_string_is_split_as_a_shell_splits_words_and_a_list_is_kept() -> None:
    from_string = parse_service({"command": "node 'my server.js' --port {port}"}, SOURCE)
    from_list = parse_service({"command": ["node", "my server.js", "--port", "{port}"]}, SOURCE)
    assert from_string.command == ("node", "my server.js", "--port", "{port}")
    assert from_list.command == from_string.command
    assert from_string.command_text == 'node "my server.js" --port {port}'
    assert from_string.start_kind is StartKind.COMMAND


def test_the_process_kinds_have_defaults_for_their_timeouts_and_env() -> None:
    service = parse_service(
        {"asgi_app": "main:app", "command_env": {"TOKEN": "{test_token}"}}, SOURCE
    )
    assert service.start_kind is StartKind.ASGI_APP
    assert service.command_env == (("TOKEN", "{test_token}"),)
    assert (service.ready_timeout_s, service.stop_timeout_s) == (60.0, 10.0)
    assert parse_service({"factory": "m:start"}, SOURCE).start_kind is StartKind.FACTORY
    assert parse_service({}, SOURCE).start_kind is None


def test_a_literal_brace_is_written_twice() -> None:
    service = parse_service({"command": ["sh", "-c", "echo {{}} {port}"]}, SOURCE)
    assert fill(service.command[2], {"port": "80"}) == "echo {} 80"
