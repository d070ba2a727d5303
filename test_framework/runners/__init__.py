"""How test runners run the pipeline: each mode in an environment of its own, then the gate.

``nox_sessions`` defines the nox sessions (one ``define_sessions()`` call in a ``noxfile.py``)
and ``tox_plugin`` the tox environments (the ``tox`` entry point). Both probe a mode before
installing anything, skip or fail it by the same decision (``decision``), install what
``[tool.test_framework]`` ``install`` names, run ``pytest <suite> --mc-mode <mode>`` with the
mode's workers, and end with the gate over the ledgers that run wrote, under one invocation id.
"""
