"""Configuration from flags and AGENT_* variables; no secret, no start (outside test)."""

from __future__ import annotations

import logging

import pytest

from agent_backend.config import ConfigError, Environment, ServerConfig, load_config
from agent_backend.metrics import Metrics
from agent_backend.ratelimit import RateLimiter

SECRET = "config-tests-secret-that-is-32-bytes-long"


def test_defaults_apply_with_only_a_secret() -> None:
    config = load_config([], {"AGENT_JWT_SECRET": SECRET})
    assert (config.host, config.port) == ("127.0.0.1", 8000)
    assert config.heartbeat_interval_s == 20.0
    assert config.drain_timeout_s == 5.0
    assert config.env is Environment.PRODUCTION
    assert config.test_password is None
    assert config.log_level == "INFO"
    assert not config.secret_generated


def test_environment_variables_configure_everything() -> None:
    config = load_config(
        [],
        {
            "AGENT_HOST": "0.0.0.0",
            "AGENT_PORT": "9001",
            "AGENT_JWT_SECRET": SECRET,
            "AGENT_TEST_PASSWORD": "pw",
            "AGENT_HEARTBEAT_INTERVAL_S": "2.5",
            "AGENT_DRAIN_TIMEOUT_S": "1",
            "AGENT_LOG_LEVEL": "warning",
            "AGENT_ENV": "test",
        },
    )
    assert (config.host, config.port, config.jwt_secret, config.test_password) == (
        "0.0.0.0",
        9001,
        SECRET,
        "pw",
    )
    assert (config.heartbeat_interval_s, config.drain_timeout_s) == (2.5, 1.0)
    assert config.log_level == "WARNING"
    assert config.log_level_number == logging.WARNING
    assert config.env is Environment.TEST


def test_flags_override_environment_variables() -> None:
    config = load_config(
        [
            "--host",
            "127.0.0.2",
            "--port",
            "0",
            "--heartbeat-interval",
            "3",
            "--drain-timeout",
            "0.5",
            "--log-level",
            "DEBUG",
            "--test-password",
            "flag-pw",
        ],
        {
            "AGENT_HOST": "0.0.0.0",
            "AGENT_PORT": "9001",
            "AGENT_JWT_SECRET": SECRET,
            "AGENT_TEST_PASSWORD": "env-pw",
        },
    )
    assert (config.host, config.port, config.test_password) == ("127.0.0.2", 0, "flag-pw")
    assert (config.heartbeat_interval_s, config.drain_timeout_s, config.log_level) == (
        3.0,
        0.5,
        "DEBUG",
    )


def test_secrets_stay_out_of_the_repr() -> None:
    config = load_config([], {"AGENT_JWT_SECRET": SECRET, "AGENT_TEST_PASSWORD": "pw-xyz"})
    assert SECRET not in repr(config)
    assert "pw-xyz" not in repr(config)


def test_production_without_a_secret_refuses_with_one_line_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="AGENT_JWT_SECRET") as raised:
        load_config([], {})
    assert "\n" not in str(raised.value)
    assert raised.value.exit_code == 2


def test_an_empty_secret_counts_as_none() -> None:
    with pytest.raises(ConfigError, match="AGENT_JWT_SECRET"):
        load_config([], {"AGENT_JWT_SECRET": ""})


def test_a_test_setting_without_a_secret_generates_one() -> None:
    first = load_config([], {"AGENT_ENV": "test", "AGENT_TEST_PASSWORD": "pw"})
    second = load_config([], {"AGENT_ENV": "test", "AGENT_TEST_PASSWORD": "pw"})
    assert first.secret_generated
    assert len(first.jwt_secret) >= 32
    assert first.jwt_secret != second.jwt_secret


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([], {"AGENT_JWT_SECRET": "short"}, "at least 32 bytes"),
        ([], {"AGENT_JWT_SECRET": SECRET, "AGENT_PORT": "http"}, "AGENT_PORT"),
        ([], {"AGENT_JWT_SECRET": SECRET, "AGENT_PORT": "70000"}, "AGENT_PORT"),
        ([], {"AGENT_JWT_SECRET": SECRET, "AGENT_HEARTBEAT_INTERVAL_S": "0"}, "HEARTBEAT"),
        ([], {"AGENT_JWT_SECRET": SECRET, "AGENT_HEARTBEAT_INTERVAL_S": "nan"}, "HEARTBEAT"),
        ([], {"AGENT_JWT_SECRET": SECRET, "AGENT_DRAIN_TIMEOUT_S": "-1"}, "DRAIN"),
        ([], {"AGENT_JWT_SECRET": SECRET, "AGENT_LOG_LEVEL": "loud"}, "AGENT_LOG_LEVEL"),
        ([], {"AGENT_JWT_SECRET": SECRET, "AGENT_ENV": "staging"}, "AGENT_ENV"),
        ([], {"AGENT_ENV": "test"}, "AGENT_TEST_PASSWORD"),
        (["--bogus"], {"AGENT_JWT_SECRET": SECRET}, "--bogus"),
    ],
)
def test_bad_settings_are_refused_with_one_line(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(argv, environ)
    assert "\n" not in str(raised.value)


def test_a_config_built_directly_is_validated_too() -> None:
    with pytest.raises(ConfigError):
        ServerConfig(jwt_secret="short")


def test_the_rate_limiter_allows_a_limit_in_any_window() -> None:
    limiter = RateLimiter(3, window_s=1.0)
    assert [limiter.allow(t) for t in (0.0, 0.1, 0.2, 0.3, 0.9)] == [True, True, True, False, False]
    assert limiter.allow(1.0)  # the first message left the window
    assert not limiter.allow(1.05)
    assert limiter.allow(1.25)


def test_metrics_render_in_prometheus_text_format() -> None:
    metrics = Metrics(connections=2, events_sent=7)
    metrics.runs_total["succeeded"] += 3
    metrics.errors_total["invalid_json"] += 1
    text = metrics.render(uptime_s=1.5)
    assert "# TYPE agent_connections gauge\nagent_connections 2\n" in text
    assert "# TYPE agent_runs_total counter" in text
    assert 'agent_runs_total{status="succeeded"} 3' in text
    assert 'agent_runs_total{status="cancelled"} 0' in text
    assert "# TYPE agent_events_sent_total counter\nagent_events_sent_total 7\n" in text
    assert 'agent_errors_total{code="invalid_json"} 1' in text
    assert text.endswith("\n")
