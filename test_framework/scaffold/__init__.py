"""``python -m test_framework init``: the files that adopt the harness in a team's repository."""
