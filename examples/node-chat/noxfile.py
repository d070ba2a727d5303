from test_framework.runners.nox_sessions import define_sessions

define_sessions()
