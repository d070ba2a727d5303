"""A small Starlette WebSocket chat: the harness's example of minimal mode through ``asgi_app``."""
