"""Which failures the profile's retry policy reruns, through pytest-rerunfailures."""

from __future__ import annotations

import re

import pytest

from test_framework.errors import BackendUnavailableError, ConnectionLostError
from test_framework.profiles import Profile

# The failures the profile's retry policy may rerun ("the connection failed")...
RERUN_ON: tuple[type[BaseException], ...] = (ConnectionLostError,)
# ...except these (the fast failure of a deployment already known to be down).
NO_RERUN_ON: tuple[type[BaseException], ...] = (BackendUnavailableError,)


def configure_reruns(config: pytest.Config, profile: Profile) -> None:
    """Rerun tests that lost their connection, as the profile's retry policy allows.

    Uses pytest-rerunfailures; a user's own --reruns settings win.
    """
    if not config.pluginmanager.hasplugin("rerunfailures"):
        return
    option = config.option
    if getattr(option, "reruns", None) is None:
        option.reruns = max(profile.retry.attempts - 1, 0)
        option.reruns_delay = profile.retry.delay_s
        option.reruns_delay_backoff_factor = profile.retry.backoff
        if not getattr(option, "only_rerun", None):
            option.only_rerun = [names_pattern(RERUN_ON, but_not=NO_RERUN_ON)]
        if not getattr(option, "rerun_except", None):
            option.rerun_except = [names_pattern(NO_RERUN_ON)]


def names_pattern(
    classes: tuple[type[BaseException], ...], but_not: tuple[type[BaseException], ...] = ()
) -> str:
    """A regex matching a failure of one of ``classes`` or their subclasses (but not of
    ``but_not``'s). pytest-rerunfailures matches its filters against a failure's text, ``Name:
    message`` (older versions ``module.Name: message``), not its type: the class names are what
    tells the types apart there."""
    names: set[str] = set()
    pending = list(classes)
    while pending:
        cls = pending.pop()
        if not issubclass(cls, but_not):
            names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return r"\b(?:" + "|".join(sorted(map(re.escape, names))) + "): "
