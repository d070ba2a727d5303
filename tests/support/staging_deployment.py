"""A real staging deployment on loopback: a service behind nginx terminating TLS.

This is how a remote staging deployment looks, scaled down to one machine: the service
(``agent_backend`` unless told otherwise) serves plain HTTP on ``127.0.0.1:<ephemeral>``; nginx
(Debian's package, run as ``nginx -c <own config>`` with every path in a private folder)
terminates TLS with a certificate from a throwaway ``trustme`` CA for ``localhost``/``127.0.0.1``
and proxies the WebSocket upgrade.

From tests::

    with StagingDeployment(tmp_path) as env:
        env.variables()  # STAGING_WEBSOCKET_URL=wss://localhost:<port>/ws, STAGING_CA_BUNDLE, ...

From CI::

    python -m tests.support.staging_deployment up --dir DIR    # starts it in the background,
    set -a; . DIR/env; set +a                                   # writes DIR/env (mode 0600)
    python -m tests.support.staging_deployment down --dir DIR

Any other service: its command and environment, where ``{port}`` is the port it must listen on
and ``{secret}`` the credential clients present (a password for ``--auth password``, the
token endpoint's user and password as agent_backend's; a static token for ``--auth bearer``)::

    python -m tests.support.staging_deployment up --dir DIR \
        --service-command "python -m chat_service" \
        --service-env CHAT_PORT={port} --service-env MC_TEST_TOKEN={secret} \
        --health-path /healthz --auth bearer          # DIR/env: ... STAGING_AUTH_TOKEN

``up`` prints the variables with the password or token masked; only ``DIR/env`` holds it.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import trustme

from tests.support.background import Background

NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
PORT_ATTEMPTS = 5
ROOT = Path(__file__).resolve().parents[2]
# Replaced in a service's command and environment: the port it listens on, and the password or
# token its clients present.
PORT = "{port}"
SECRET = "{secret}"
MASKED = ("STAGING_TEST_PASSWORD", "STAGING_AUTH_TOKEN")

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    # The request line can carry ?token=...: log the path only.
    log_format staging '$remote_addr [$time_local] "$request_method $uri" $status '
                       '$body_bytes_sent $request_time';
    access_log {dir}/access.log staging;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://127.0.0.1:{backend_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}
    }}
}}
"""


class DeploymentError(RuntimeError):
    """The deployment could not start; the message says why and what to do."""


def find_nginx() -> str | None:
    """The nginx binary, or ``None`` when it is not installed."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)


def free_port() -> int:
    """A port that was free a moment ago. Another process may take it before we bind it, so
    every caller retries with a new port when its server fails to bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Auth(enum.StrEnum):
    """What the deployment's clients present, named as ``[tool.test_framework.service] auth``."""

    PASSWORD = "password"  # the token endpoint: STAGING_TEST_USER and STAGING_TEST_PASSWORD
    BEARER = "bearer"  # a static token: STAGING_AUTH_TOKEN


@dataclass(frozen=True)
class Service:
    """The service nginx fronts: how it starts (``{port}`` and ``{secret}`` replaced in its
    command and environment), where it answers health and the WebSocket, what clients present."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    health_path: str = "/health"
    ws_path: str = "/ws"
    auth: Auth = Auth.PASSWORD

    def command(self, port: int, secret: str) -> tuple[list[str], dict[str, str]]:
        """The argv and the full environment that start it on ``port`` accepting ``secret``."""

        def fill(text: str) -> str:
            return text.replace(PORT, str(port)).replace(SECRET, secret)

        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.update({key: fill(value) for key, value in self.env.items()})
        return [fill(arg) for arg in self.argv], env


def agent_backend() -> Service:
    """This repository's reference service, as CI's staging deployment runs it."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return Service(
        "agent_backend",
        (sys.executable, "-m", "agent_backend", "--host", "127.0.0.1", "--port", PORT),
        env={
            "AGENT_JWT_SECRET": secrets.token_urlsafe(32),
            "AGENT_TEST_PASSWORD": SECRET,
            "AGENT_ENV": "test",
            "PYTHONPATH": path,
        },
    )


@dataclass(frozen=True)
class StagingEnvironment:
    """What a client needs to use the deployment: the ``STAGING_*`` variables."""

    ws_url: str
    ca_bundle: Path
    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    https_port: int = 0
    backend_port: int = 0

    def variables(self) -> dict[str, str]:
        found = {"STAGING_WEBSOCKET_URL": self.ws_url, "STAGING_CA_BUNDLE": str(self.ca_bundle)}
        if self.password:
            found["STAGING_TEST_USER"] = self.user
            found["STAGING_TEST_PASSWORD"] = self.password
        if self.token:
            found["STAGING_AUTH_TOKEN"] = self.token
        return found

    def through(self, port: int) -> StagingEnvironment:
        """The same deployment reached through a proxy listening on ``localhost:port``."""
        path = self.ws_url.split("/", 3)[3]
        return replace(self, ws_url=f"wss://localhost:{port}/{path}")


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes] | None
    pid: int
    log: Path


class StagingDeployment(Background[StagingEnvironment]):
    """Start with ``start()`` (or ``with``); ``stop()`` stops what was started."""

    def __init__(
        self,
        directory: Path,
        *,
        service: Service | None = None,
        user: str = "mc-staging",
        password: str | None = None,
    ) -> None:
        """``password`` is the secret clients present: the password, or the bearer token."""
        self.directory = directory.resolve()
        self.service = service or agent_backend()
        self.user = user
        self.password = password or secrets.token_urlsafe(18)
        self.environment: StagingEnvironment | None = None
        self._processes: list[_Process] = []

    def start(self) -> StagingEnvironment:
        nginx = find_nginx()
        if nginx is None:
            raise DeploymentError(
                "nginx is not installed: run .ci/setup-staging.sh (apt-get install -y nginx)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.directory / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        ca_bundle = self._write_certificates()
        try:
            backend_port = self._start_backend()
            https_port = self._start_nginx(nginx, backend_port, ca_bundle)
        except BaseException:
            self.stop()
            raise
        bearer = self.service.auth is Auth.BEARER
        self.environment = StagingEnvironment(
            ws_url=f"wss://localhost:{https_port}{self.service.ws_path}",
            ca_bundle=ca_bundle,
            user="" if bearer else self.user,
            password="" if bearer else self.password,
            token=self.password if bearer else "",
            https_port=https_port,
            backend_port=backend_port,
        )
        return self.environment

    def stop(self) -> None:
        """nginx first (no new traffic), then the backend; SIGKILL what outlives the timeout."""
        for process in reversed(self._processes):
            _terminate(process.pid, process.popen)
        self._processes.clear()

    # -- parts ---------------------------------------------------------------------------------

    def _write_certificates(self) -> Path:
        ca = trustme.CA()
        server = ca.issue_cert("localhost", "127.0.0.1")
        ca_bundle = self.directory / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_bundle))
        server.private_key_pem.write_to_path(str(self.directory / "server.key"))
        chain = b"".join(blob.bytes() for blob in server.cert_chain_pems)
        (self.directory / "server.pem").write_bytes(chain)
        os.chmod(self.directory / "server.key", 0o600)
        return ca_bundle

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> _Process:
        log = self.directory / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own session: a CI `up` leaves it running after the CLI exits, and a
                # Ctrl-C in the test terminal does not reach it before stop() does.
                start_new_session=True,
            )
        process = _Process(name, popen, popen.pid, log)
        self._processes.append(process)
        return process

    def _start_backend(self) -> int:
        health = self.service.health_path
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            argv, env = self.service.command(port, self.password)
            process = self._spawn("backend", argv, env)
            if _wait_healthy(f"http://127.0.0.1:{port}{health}", process, None):
                return port
            self._forget(process)
        log = self.directory / "backend.log"
        raise DeploymentError(f"{self.service.name} did not start: see {log}")

    def _start_nginx(self, nginx: str, backend_port: int, ca_bundle: Path) -> int:
        context = ssl.create_default_context(cafile=str(ca_bundle))
        conf = self.directory / "nginx.conf"
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            conf.write_text(
                NGINX_CONF.format(dir=self.directory, port=port, backend_port=backend_port)
            )
            argv = [nginx, "-p", str(self.directory), "-c", str(conf)]
            argv += ["-e", str(self.directory / "error.log")]
            process = self._spawn("nginx", argv, dict(os.environ))
            health = f"https://localhost:{port}{self.service.health_path}"
            if _wait_healthy(health, process, context):
                return port
            self._forget(process)
        raise DeploymentError(f"nginx did not start: see {self.directory / 'error.log'}")

    def _forget(self, process: _Process) -> None:
        _terminate(process.pid, process.popen)
        self._processes.remove(process)

    # -- the command line's background mode ------------------------------------------------------

    def save_state(self) -> None:
        state = {
            "processes": [
                {"name": p.name, "pid": p.pid, "cmdline": _cmdline(p.pid)} for p in self._processes
            ]
        }
        (self.directory / "state.json").write_text(json.dumps(state, indent=2))


def _wait_healthy(url: str, process: _Process, context: ssl.SSLContext | None) -> bool:
    """Poll ``url`` until 200; ``False`` when the process exits first (e.g. its port was
    taken) or the start timeout passes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.popen is not None
        if process.popen.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass  # not listening yet: poll again
        time.sleep(0.05)
    return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _terminate(pid: int, popen: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (nginx: fast shutdown; backend: drain), then SIGKILL after the stop timeout."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if popen is not None:
            if popen.poll() is not None:
                return
        elif not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if popen is not None:
        popen.wait(STOP_TIMEOUT_S)


def _is_zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state == "Z"
    except OSError:
        return True


def write_env(directory: Path, environment: StagingEnvironment) -> Path:
    path = directory / "env"
    lines = [f"{key}={value}" for key, value in environment.variables().items()]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


def _up(directory: Path, service: Service) -> int:
    deployment = StagingDeployment(directory, service=service)
    try:
        environment = deployment.start()
    except DeploymentError as exc:
        print(f"staging deployment: {exc}", file=sys.stderr)
        return 2
    deployment.save_state()
    env_file = write_env(directory, environment)
    for key, value in environment.variables().items():
        shown = "***" if key in MASKED else value
        print(f"{key}={shown}")
    print(f"# full values (with the password or token) in {env_file}", file=sys.stderr)
    return 0


def _down(directory: Path) -> int:
    state_file = directory / "state.json"
    if not state_file.is_file():
        print(f"staging deployment: nothing to stop ({state_file} is absent)", file=sys.stderr)
        return 0
    state = json.loads(state_file.read_text())
    for entry in reversed(state["processes"]):
        pid = int(entry["pid"])
        # Only signal the process we started, not whatever reused its pid since.
        if _cmdline(pid) == entry["cmdline"]:
            _terminate(pid, None)
    state_file.unlink()
    return 0


def _service(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Service:
    """agent_backend, or the service the ``--service-*`` options describe."""
    if args.service_command is None:
        if args.service_env or args.health_path or args.auth or args.ws_path:
            parser.error(
                "--service-env, --health-path, --ws-path and --auth need --service-command"
            )
        return agent_backend()
    argv = tuple(shlex.split(args.service_command))
    if not argv:
        parser.error("--service-command is empty")
    env: dict[str, str] = {}
    for item in args.service_env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--service-env takes KEY=VALUE, not {item!r}")
        env[key] = value
    return Service(
        name=args.service_command,
        argv=argv,
        env=env,
        health_path=args.health_path or "/health",
        ws_path=args.ws_path or "/ws",
        auth=Auth(args.auth or Auth.PASSWORD),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.staging_deployment",
        description="A service (agent_backend by default) behind nginx with TLS on loopback, for"
        " staging_fallback. In --service-command and --service-env values, {port} is the port"
        " the service must listen on and {secret} the password or token its clients present.",
    )
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--dir", type=Path, required=True, help="private folder for its files")
    parser.add_argument(
        "--service-command", help="how to start the service (default: agent_backend)"
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a variable for the service (repeatable)",
    )
    parser.add_argument(
        "--health-path", help="answers 200 when the service is up (default /health)"
    )
    parser.add_argument("--ws-path", help="the WebSocket's path (default /ws)")
    parser.add_argument(
        "--auth",
        choices=[auth.value for auth in Auth],
        help="what clients present: password (STAGING_TEST_USER/PASSWORD, the default) or bearer"
        " (STAGING_AUTH_TOKEN)",
    )
    args = parser.parse_args(argv)
    directory: Path = args.dir.resolve()
    if args.command == "up":
        return _up(directory, _service(parser, args))
    return _down(directory)


if __name__ == "__main__":
    sys.exit(main())
