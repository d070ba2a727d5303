"""Where the service under test runs: one ``Backend`` per mode.

``make_backend`` (in ``factory``) hands the pytest plugin a started deployment's
``Endpoints``: in-process, in Docker Compose (through ``engine``), or at staging.
"""

from __future__ import annotations

__all__ = ["base", "factory"]
