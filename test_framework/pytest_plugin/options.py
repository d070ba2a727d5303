"""The plugin's command-line options (one group, ``mission-critical``) and how their values
become settings: the options of the settings table, ``--mc-profile KEY=VALUE`` and ``--shard``.
"""

from __future__ import annotations

import pytest

from test_framework.errors import HarnessError
from test_framework.settings_table import PROFILE, PROFILE_OPTION, SETTINGS, Setting

# The settings of the table that are pytest options (--mc-profile is several, below).
OPTIONS = tuple(s for s in SETTINGS if s.option and not s.profile and not s.read_by)


def dest(setting: Setting) -> str:
    """The attribute of ``config.option`` that holds ``setting``'s option."""
    return f"mc_{setting.name}"


def add_options(parser: pytest.Parser) -> None:
    """Add the options to ``parser`` (the entry point's ``pytest_addoption``)."""
    group = parser.getgroup("mission-critical", "mission-critical harness (test_framework)")
    for setting in OPTIONS:
        group.addoption(
            setting.option,
            dest=dest(setting),
            metavar=setting.metavar,
            help=setting.option_help(),
        )
    group.addoption(
        PROFILE_OPTION,
        dest="mc_profile",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a profile setting for every mode, e.g. connect_timeout_s=5 (repeatable;"
        f" {', '.join(s.name for s in PROFILE)})",
    )
    group.addoption(
        "--shard",
        dest="mc_shard",
        metavar="I/N",
        help="run only shard I of N of the collected tests (deterministic split)",
    )
    group.addoption(
        "--shard-durations",
        dest="mc_shard_durations",
        metavar="FILE",
        help="a ledger or JSON {nodeid: seconds} used to balance --shard by recorded durations",
    )


def given_options(config: pytest.Config) -> dict[str, str]:
    """The settings given on the command line, keyed as ``load_settings`` takes them."""
    options: dict[str, str] = {}
    for setting in OPTIONS:
        value = config.getoption(dest(setting))
        if value is not None:
            options[setting.name] = str(value)
    for item in config.getoption("mc_profile"):
        key, sep, value = str(item).partition("=")
        if not sep:
            raise HarnessError(
                f"{PROFILE_OPTION} {item!r} is not KEY=VALUE: e.g. connect_timeout_s=5"
            )
        options[f"profile.{key.strip()}"] = value.strip()
    return options
