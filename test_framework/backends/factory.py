"""The backend for a mode (for minimal, for the kind of service start configured), as the mode
table (``mode_specs``) names it. Imports lazily: the docker backend needs the Docker SDK and
``filelock``, the others do not.
"""

from __future__ import annotations

from collections.abc import Callable

from test_framework.backends.base import Backend, RunContext
from test_framework.mode_specs import MODE_SPECS
from test_framework.modes import Mode
from test_framework.settings import Settings


def make_backend(mode: Mode, settings: Settings, run: RunContext) -> Backend:
    """The backend for ``mode``."""
    make: Callable[[Settings, RunContext], Backend]
    make = MODE_SPECS[mode].backend_class(settings.service.start_kind)
    return make(settings, run)
