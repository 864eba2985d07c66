"""The production image's install step, without Docker.

Replays the Dockerfile's last stage (the app image) into a temporary directory:
its WORKDIRs, its COPYs from this checkout, and its `RUN pip install ...` lines,
run by the pip of a fresh virtualenv. So the test installs exactly what the image
installs (requirements/prod.txt, then the project, not editable), from exactly the
files the image gets, and cannot drift from it. Then it checks that neither the
embedded servers nor an editable project came along, and starts the API the way
the image's CMD does, in production mode, against the test servers.

The only departure: the Dockerfile's PIP_NO_CACHE_DIR is dropped, so that pip's
cache keeps repeated runs fast; the hashes of the lock decide what is installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from streamsvc.embedded import EMBEDDED_PACKAGES, free_port, stop_process
from tests.harness import TEST_STRIPE_KEY, TEST_WEBHOOK_SECRET, Infrastructure

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED = sorted(package for package, _ in EMBEDDED_PACKAGES.values())
Instruction = tuple[str, str]


def instructions(dockerfile: str) -> list[Instruction]:
    """(KEYWORD, arguments) for each instruction, continuation lines joined."""
    result: list[Instruction] = []
    pending = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        result.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return result


def final_stage(dockerfile: str) -> list[Instruction]:
    """The instructions of the last stage: the one `docker build .` builds."""
    steps = instructions(dockerfile)
    start = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[start + 1 :]


def pip_installs(stage: list[Instruction]) -> list[list[str]]:
    """The arguments after `pip install` of each such RUN line of the stage."""
    commands = []
    for keyword, args in stage:
        words = shlex.split(args) if keyword == "RUN" else []
        if words[:2] == ["pip", "install"]:
            assert "&&" not in words, f"keep install steps on their own RUN line: {args}"
            commands.append(words[2:])
    return commands


class ImageReplay:
    """The app stage replayed under `root` (the image's /), into the virtualenv `venv`."""

    def __init__(self, root: Path, venv: Path) -> None:
        self.root = root
        self.venv = venv
        self.workdir = PurePosixPath("/")
        self.env: dict[str, str] = {}

    def host(self, path: str) -> Path:
        """Where an image path lies under root."""
        absolute = self.workdir / path
        return self.root / str(absolute).lstrip("/")

    def image_env(self) -> dict[str, str]:
        """The stage's ENV so far, but for PIP_NO_CACHE_DIR (see the module docstring)."""
        return {k: v for k, v in self.env.items() if k != "PIP_NO_CACHE_DIR"}

    def run(self, stage: list[Instruction], pip_env: dict[str, str]) -> list[list[str]]:
        ran = []
        for keyword, args in stage:
            if keyword == "WORKDIR":
                self.workdir = self.workdir / args
                self.host(".").mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self.copy(args)
            elif keyword == "ENV":
                for pair in shlex.split(args):
                    name, _, value = pair.partition("=")
                    self.env[name] = value
            elif keyword == "RUN" and shlex.split(args)[:2] == ["pip", "install"]:
                command = [str(self.venv / "bin" / "python"), "-m", *shlex.split(args)]
                env = {**pip_env, **self.image_env()}
                subprocess.run(command, cwd=self.host("."), env=env, check=True)
                ran.append(shlex.split(args)[2:])
        return ran

    def copy(self, args: str) -> None:
        words = shlex.split(args)
        assert not any(w.startswith("--") for w in words), f"COPY option not replayed: {args}"
        *sources, dest = words
        target = self.host(dest)
        into_dir = dest.endswith("/") or len(sources) > 1
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(origin, target, ignore=ignore, dirs_exist_ok=True)
            else:
                path = target / origin.name if into_dir else target
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, path)


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=5):
            return True
    except OSError:
        return False


def _clean_env() -> dict[str, str]:
    """This process's environment without what would leak the checkout in."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV", "PIP_NO_CACHE_DIR"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _production_secrets() -> dict[str, str]:
    """Real-looking secrets, so that the production checks pass (not the dev defaults)."""
    secret = os.urandom(24).hex()
    return {
        "STREAMSVC_ENV": "production",
        "STREAMSVC_STRIPE_API_KEY": TEST_STRIPE_KEY,
        "STREAMSVC_STRIPE_WEBHOOK_SECRETS": TEST_WEBHOOK_SECRET,
        "STREAMSVC_TOKEN_KEYS": f"image:{secret}",
        "STREAMSVC_TOKEN_SIGNING_KEY_ID": "image",
        "STREAMSVC_PLATFORM_KEY": secret,
    }


_INSPECT = """
import importlib.metadata, importlib.util, json, sysconfig
import streamsvc, migrations.versions
dist = importlib.metadata.distribution("streamsvc")
print(json.dumps({
    "missing": [n for n in %r if importlib.util.find_spec(n) is None],
    "file": streamsvc.__file__,
    "purelib": sysconfig.get_paths()["purelib"],
    "direct_url": json.loads(dist.read_text("direct_url.json") or "{}"),
    "installed": {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()},
}))
"""


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith((" ", "#")):
            pins[_normalized(name.split("[")[0])] = version.split()[0]
    return pins


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_dockerfile_installs_the_prod_lock_then_the_project_not_editable() -> None:
    commands = pip_installs(final_stage((ROOT / "Dockerfile").read_text()))
    assert commands == [
        ["--no-deps", "--require-hashes", "-r", "requirements/prod.txt"],
        ["--no-deps", "."],
    ]
    prod = _lock_pins(ROOT / "requirements" / "prod.txt")
    assert not set(EMBEDDED) & set(prod)
    assert {"stripe", "starlette", "sqlmodel", "celery", "redis"} <= set(prod)


def test_the_image_install_runs_the_api_without_the_embedded_servers(
    infra: Infrastructure, tmp_path: Path
) -> None:
    if not _pypi_reachable():
        pytest.skip("PyPI (https://pypi.org) is unreachable: the image's install step needs it")
    venv, root = tmp_path / "venv", tmp_path / "image"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    replay = ImageReplay(root, venv)
    pip_env = {**_clean_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    ran = replay.run(final_stage((ROOT / "Dockerfile").read_text()), pip_env)
    assert len(ran) == 2, ran
    workdir = replay.host(".")  # the image's last WORKDIR, where CMD runs
    assert not (workdir / "streamsvc").exists(), "the sources would shadow the install"

    inspect = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _INSPECT % (EMBEDDED,)],
        cwd=workdir, env=_clean_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = json.loads(inspect.stdout)
    assert found["missing"] == EMBEDDED, "the embedded servers must not be in the image"
    assert Path(found["file"]).is_relative_to(found["purelib"]), found["file"]
    assert not found["direct_url"].get("dir_info", {}).get("editable", False)
    prod = _lock_pins(ROOT / "requirements" / "prod.txt")
    installed = {_normalized(n): v for n, v in found["installed"].items()}
    for bundled in ("pip", "setuptools"):  # what `python -m venv` puts in
        installed.pop(bundled, None)
    assert installed == {**prod, "streamsvc": installed["streamsvc"]}

    # Without the embedded extra and with nothing configured, `run` says what to do.
    bare = {k: v for k, v in _clean_env().items() if not k.startswith("STREAMSVC_")}
    bare["STREAMSVC_DATA_DIR"] = str(tmp_path / "bare")
    refused = subprocess.run(
        [str(venv / "bin" / "streamsvc"), "run", "--port", str(free_port())],
        cwd=workdir, env=bare, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr, refused.stderr
    for named in ("STREAMSVC_DATABASE_URL", "STREAMSVC_REDIS_URL", "STREAMSVC_STRIPE_API_KEY"):
        assert named in refused.stderr, refused.stderr
    assert "streamsvc[embedded]" in refused.stderr
    assert not (tmp_path / "bare" / "postgres").exists(), "it started nothing"

    env = {
        **_clean_env(),
        **infra.environ(**_production_secrets()),
        **replay.image_env(),
        "STREAMSVC_DATA_DIR": str(tmp_path / "data"),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PYTHONPATH", None)
    # What docker-compose.yml's api runs before the CMD: the migrations, installed.
    subprocess.run(["streamsvc", "migrate"], cwd=workdir, env=env, check=True)

    cmd = next(json.loads(args) for keyword, args in reversed(
        final_stage((ROOT / "Dockerfile").read_text())) if keyword == "CMD")  # fmt: skip
    port = free_port()
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    cmd[cmd.index("--port") + 1] = str(port)
    log = tmp_path / "api.log"
    with open(log, "wb") as out:
        api = subprocess.Popen(
            [*cmd, "--workers", "1"], cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        status, body = 0, dict[str, Any]()
        while time.monotonic() < deadline:
            assert api.poll() is None, log.read_text()
            try:
                status, body = _get(f"http://127.0.0.1:{port}/readyz")
            except OSError:
                time.sleep(0.2)
                continue
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200, f"{body}\n{log.read_text()}"
        assert {body["checks"][n]["status"] for n in ("database", "redis", "broker")} == {"ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as health:
            assert health.status == 200
    finally:
        stop_process(api)
