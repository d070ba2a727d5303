"""What the service image's build needs before it starts: a base image and a wheelhouse.

The build runs without network (see docker/Dockerfile), so both must be on this machine or, for
the base image, pullable from a registry. Standard library only: the probe and the backend share
these answers, so the probe's verdict is what the backend then does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from test_framework.engine.daemon_address import DaemonAddress
from test_framework.engine.docker_api import request
from test_framework.settings import DEFAULT_BASE_IMAGE, LOCAL_BASE_IMAGE
from test_framework.settings_table import BASE_IMAGE
from test_framework.wording import counted

BUILD_BASE_IMAGE = "bash docker/build-base-image.sh"


@dataclass(frozen=True)
class BaseImageChoice:
    image: str  # the image the build will use
    ok: bool
    detail: str  # which case applies and, when not ok, the command that fixes it


def image_present(address: DaemonAddress, image: str, timeout: float) -> bool:
    """Whether the daemon has ``image`` locally. Raises ``OSError`` when it cannot answer."""
    status = request(address, f"/images/{image}/json", timeout).status
    if status not in (200, 404):
        raise OSError(f"daemon answered {status} when asked about image {image}")
    return status == 200


def choose_base_image(address: DaemonAddress, configured: str, timeout: float) -> BaseImageChoice:
    """The configured base image when present; else the registry-free local one when the default
    was configured and the local one exists; else the configured one if a registry serves it."""
    if image_present(address, configured, timeout):
        return BaseImageChoice(configured, True, f"{configured} present")
    if configured == DEFAULT_BASE_IMAGE and image_present(address, LOCAL_BASE_IMAGE, timeout):
        return BaseImageChoice(
            LOCAL_BASE_IMAGE,
            True,
            f"{configured} not present, so using {LOCAL_BASE_IMAGE} (built without a registry"
            f" by {BUILD_BASE_IMAGE})",
        )
    reply = request(address, f"/distribution/{configured}/json", timeout)
    if reply.status == 200:
        return BaseImageChoice(
            configured, True, f"{configured} not present; the build pulls it from its registry"
        )
    why = _message(reply.body) or f"registry answered {reply.status}"
    if configured == DEFAULT_BASE_IMAGE:
        fix = f"run `{BUILD_BASE_IMAGE}` to build {LOCAL_BASE_IMAGE} from Debian packages"
    else:
        fix = (
            f"pull or build {configured}, or run `{BUILD_BASE_IMAGE}` and set"
            f" {BASE_IMAGE.env}={LOCAL_BASE_IMAGE}"
        )
    return BaseImageChoice(
        configured,
        False,
        f"base image {configured} is not here and cannot be pulled ({why}): {fix}",
    )


# A YAML comment: the example compose files name the variable in theirs.
_COMMENT = re.compile(r"(^|\s)#.*$", re.MULTILINE)
_BASE_IMAGE_VARIABLE = re.compile(r"\$\{?" + re.escape(BASE_IMAGE.env) + r"\b")


def uses_base_image(compose_file: Path) -> bool:
    """Whether ``compose_file`` interpolates ``MC_BASE_IMAGE`` (``${MC_BASE_IMAGE:-...}``, e.g.
    as a build argument): only then does the base image the harness chooses reach the build."""
    text = _COMMENT.sub("", compose_file.read_text("utf-8"))
    return _BASE_IMAGE_VARIABLE.search(text) is not None


def wheelhouse_status(compose_file: Path) -> tuple[bool, str]:
    """Whether the wheelhouse the Dockerfile beside ``compose_file`` copies has wheels in it,
    one for every distribution the ``requirements.txt`` beside it names, if there is one."""
    folder = compose_file.parent
    dockerfile = folder / "Dockerfile"
    if not dockerfile.is_file() or "wheels" not in dockerfile.read_text("utf-8"):
        return True, f"no wheelhouse used by {dockerfile}"
    wheels = folder / "wheels"
    found = list(wheels.glob("*.whl"))
    have = {_normalized(path.name.split("-")[0]) for path in found}
    script = folder / "build-wheelhouse.sh"
    fix = f"bash {script}" if script.is_file() else f"put the service's wheels into {wheels}"
    if not have:
        return False, f"{wheels} has no wheels and the image build has no network: run `{fix}`"
    requirements = folder / "requirements.txt"
    wanted = _requirement_names(requirements) if requirements.is_file() else []
    missing = [name for name in wanted if _normalized(name) not in have]
    if missing:
        # Most often a dependency was added after the wheelhouse was built.
        return False, (
            f"{wheels} has no wheel for {', '.join(missing)}, which {requirements} names, and"
            f" the image build has no network: run `{fix}`"
        )
    return True, f"{counted(len(found), 'wheel')} in {wheels}"


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _requirement_names(requirements: Path) -> list[str]:
    """The distribution names a requirements file asks for (options and comments skipped)."""
    names = []
    for line in requirements.read_text("utf-8").splitlines():
        text = line.partition("#")[0].strip()
        match = _NAME.match(text)
        if match is not None and not text.startswith("-"):
            names.append(match.group())
    return names


def _normalized(name: str) -> str:
    # Wheel file names spell a distribution with "_" where its name may have "-" or ".".
    return re.sub(r"[-_.]+", "_", name).lower()


def _message(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    return str(data.get("message", text))[:200] if isinstance(data, dict) else text[:200]
