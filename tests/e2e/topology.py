"""The service as it runs on several machines, on this one: two API processes behind an
nginx upstream, two Celery workers and beat on a RabbitMQ virtual host of the run's
own, a Redis Cluster (tests/redis_cluster.py) and PostgreSQL. Used by the scale-out
e2e test (tests/e2e/test_scale_out.py) and the soak benchmark (bench/soak.py), which
also breaks it on purpose: a worker killed, an API node stopped, the broker cut.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from streamsvc.embedded import free_port, stop_process, wait_for_port
from tests.e2e.media import NGINX

RABBITMQ = ("127.0.0.1", 5672)
NGINX_CONF = """
daemon off;
master_process off;
user root;
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  upstream streamsvc_api {{
    server 127.0.0.1:{first} max_fails=1 fail_timeout=2s;
    server 127.0.0.1:{second} max_fails=1 fail_timeout=2s;
    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://streamsvc_api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      # A node going away mid-request: its requests go to the other one (POSTs only
      # when nothing reached the node yet, nginx's default for non-idempotent ones).
      proxy_next_upstream error timeout http_502 http_503;
    }}
  }}
}}
"""


def _rabbitmq_answers() -> bool:
    try:
        with socket.create_connection(RABBITMQ, timeout=1):
            return shutil.which("rabbitmqctl") is not None
    except OSError:
        return False


def rabbitmq_available() -> bool:
    """RabbitMQ answers on 127.0.0.1:5672, installed and started by
    scripts/install-rabbitmq where it did not (root with apt-get)."""
    if _rabbitmq_answers():
        return True
    installer = Path(__file__).resolve().parents[2] / "scripts" / "install-rabbitmq"
    subprocess.run([str(installer)], capture_output=True, timeout=900, check=False)
    return _rabbitmq_answers()


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A virtual host of the run's own on the machine's RabbitMQ: no other run's worker
    takes its tasks, and nothing is left behind. The broker URL."""
    vhost = f"streamsvc-e2e-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


class Node:
    """A child process of the service (`streamsvc api`, `worker` or `beat`)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "streamsvc", *self.args], env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def restart(self) -> None:
        self.process = self._start()

    def kill(self) -> None:
        """SIGKILL to the whole process group: no goodbye, as a crash or the OOM killer."""
        self.process.send_signal(signal.SIGKILL)
        subprocess.run(["pkill", "-KILL", "-g", str(self.process.pid)], check=False)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.process, timeout=20)


class Topology:
    """Two API nodes, two workers, beat, and nginx in front of the API nodes."""

    def __init__(self, directory: Path, env: dict[str, str], *, beat: bool = False) -> None:
        self.directory = directory
        self.ports = [free_port(), free_port()]
        self.api_urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.apis: list[Node] = []
        self.workers: list[Node] = []
        self.beat: Node | None = None
        self.nginx: subprocess.Popen[bytes] | None = None
        try:
            for number, port in enumerate(self.ports, start=1):
                self.apis.append(Node(["api", "--host", "127.0.0.1", "--port", str(port),
                                       "--workers", "1"], env, directory / f"api{number}.log"))  # fmt: skip
            for number in (1, 2):
                self.workers.append(Node(
                    ["worker", "--concurrency", "2", "--", "--without-mingle",
                     "--without-gossip", "-n", f"worker{number}@%h"],
                    env, directory / f"worker{number}.log"))  # fmt: skip
            if beat:
                self.beat = Node(["beat"], env, directory / "beat.log")
            for port, api in zip(self.ports, self.apis, strict=True):
                wait_for_port(port, api.process, timeout=60)
            (directory / "tmp").mkdir(exist_ok=True)
            self.nginx_port = free_port()
            conf = directory / "nginx.conf"
            conf.write_text(NGINX_CONF.format(dir=directory, port=self.nginx_port,
                                              first=self.ports[0], second=self.ports[1]))  # fmt: skip
            self.nginx = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(conf)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            wait_for_port(self.nginx_port, self.nginx)
        except BaseException:
            self.stop()
            raise
        self.base_url = f"http://127.0.0.1:{self.nginx_port}"

    @property
    def nodes(self) -> list[Node]:
        return [*self.apis, *self.workers, *([self.beat] if self.beat else [])]

    def wait_for_workers(self, celery: Any, timeout: float = 60) -> None:
        """Both workers answer a ping over the broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(celery.control.ping(timeout=1)) == len(self.workers):
                return
        raise AssertionError(f"the workers did not start: {self.logs()}")

    def restart_api(self, index: int, down_seconds: float) -> None:
        """Stop an API node as an orchestrator does (SIGTERM, in-flight requests end),
        leave it down a while, start it again and wait until it listens."""
        api = self.apis[index]
        api.stop()
        time.sleep(down_seconds)
        api.restart()
        wait_for_port(self.ports[index], api.process, timeout=60)

    def logs(self) -> str:
        return "\n".join(f"== {n.log.name}\n{n.log.read_text()[-3000:]}" for n in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.nginx is not None:
            stop_process(self.nginx, timeout=10)
