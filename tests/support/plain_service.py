"""A stand-in for a team's service in any language, run as a local command: plain HTTP on the
port it is given, ``GET /healthz`` answering ``200 ok`` as text (not JSON), ``GET /ws``
answering 426 as a WebSocket endpoint refuses a plain GET. Flags make it misbehave the ways a
real service does.

    python tests/support/plain_service.py --port 8080 [--child] [--ignore-term] ...
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import subprocess
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = {"/healthz": (200, b"ok"), "/ws": (426, b"upgrade required")}.get(
            self.path, (404, b"not found")
        )
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"request {format % args}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before listening")
    parser.add_argument("--child", action="store_true", help="start a long-lived child too")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit-after", type=float, default=None)
    parser.add_argument("--status", type=int, default=3, help="the status --exit-after exits with")
    parser.add_argument("--print-env", action="append", default=[], help="print this variable")
    parser.add_argument("--pid-file", default="", help="append this process's (and child's) pid")
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pids = [os.getpid()]
    if args.child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        pids.append(child.pid)
    if args.pid_file:
        with open(args.pid_file, "a", encoding="utf-8") as out:
            out.write("".join(f"{pid}\n" for pid in pids))
    for name in args.print_env:
        print(f"{name}={os.environ.get(name, '')}", flush=True)
    print("starting up", flush=True)
    time.sleep(args.delay)
    if args.exit_after is not None:
        threading.Timer(args.exit_after, lambda: os._exit(args.status)).start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on {args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
