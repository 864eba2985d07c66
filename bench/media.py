"""The media path: an HLS segment through nginx with `auth_request` to authorize,
against the same nginx serving the same file with no authorization, in the same run.

nginx runs the README's configuration (the `location /live/` block: character guard,
token from `?token=` or `X-Viewing-Token`, `$uri` to authorize), with authorize behind
an `upstream` with keepalive connections, as the README recommends: without it every
segment costs a new TCP connection to the API. `/plain/` serves the very same files
without `auth_request`: the baseline. wrk loads both with the same connections and
duration, the authorized one round-robin over thousands of live sessions' tokens.

Two file sizes: a one-second HD segment of the test stream's bandwidth (1.2 Mbit/s,
150,000 bytes: what a player fetches every second), and a 1 KiB file (what is left
when the file costs nothing: the path's own overhead).

Then revocation through the same nginx: a viewer polls a segment; from the moment the
refund webhook is sent until the poller's first 403 (goal: under a second).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.load import BenchmarkFailed, LoadResult, run_load
from bench.viewing import Box, Poller, timed_revocation
from streamsvc.embedded import free_port, stop_process, wait_for_port
from tests.e2e.media import NGINX, media_stack_available

SIZES = {"segment": 150_000, "small": 1024}
REVOCATIONS = 10

CONF = """
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
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; text/vtt vtt; }}
  sendfile on;
  map $viewing_query_token $viewing_token {{
    ""      $http_x_viewing_token;
    default $viewing_query_token;
  }}
  upstream streamsvc_authorize {{
    server {api};
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
    location /live/ {{
      location ~ "[^A-Za-z0-9._/-]" {{ return 403; }}
      log_not_found off;
      set $viewing_uri $uri;
      set $viewing_query_token $arg_token;
      auth_request /_streamsvc_authorize;
    }}
    location /plain/ {{ log_not_found off; }}
    location = /_streamsvc_authorize {{
      internal;
      proxy_pass http://streamsvc_authorize/v1/viewing/authorize;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $viewing_uri;
      proxy_set_header X-Viewing-Token $viewing_token;
    }}
  }}
}}
"""


class Nginx:
    """nginx with CONF in a scratch directory, the files under www/live and www/plain."""

    def __init__(self, api_base: str, event_id: str) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="bench-nginx-")
        root = Path(self._scratch.name)
        (root / "tmp").mkdir()
        for top in ("live", "plain"):
            folder = root / "www" / top / event_id / "hd"
            folder.mkdir(parents=True)
            for name, size in SIZES.items():
                (folder / f"{name}_00042.ts").write_bytes(os.urandom(size))
        self.port = free_port()
        conf = root / "nginx.conf"
        api = api_base.removeprefix("http://")
        conf.write_text(CONF.format(dir=root, port=self.port, api=api))
        self.process = subprocess.Popen(
            [NGINX, "-p", str(root), "-c", str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, self.process)
        self.base_url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        stop_process(self.process, timeout=10)
        self._scratch.cleanup()


def run(box: Box, api_base: str, duration: float, connections: int) -> LoadResult:
    """The segment through auth_request; its extra figures hold the rest."""
    if not media_stack_available():
        raise BenchmarkFailed("nginx is not installed and scripts/install-media-stack failed")
    event_id = box.event["id"]
    tokens = [h["Authorization"].removeprefix("Bearer ") for h in box.crowd_headers(api_base)]
    viewers = [{"X-Viewing-Token": token} for token in tokens]
    nginx = Nginx(api_base, event_id)
    try:
        figures: dict[str, LoadResult] = {}
        for name in SIZES:
            for top, headers in (("plain", None), ("live", viewers)):
                figures[f"{name}_{top}"] = run_load(
                    f"{nginx.base_url}/{top}/{event_id}/hd/{name}_00042.ts",
                    duration=duration, connections=connections, header_sets=headers,
                )  # fmt: skip
        revoked = _revocations(box, nginx.base_url, event_id)
    finally:
        nginx.close()
    result = figures["segment_live"]
    result.extra = {
        "segment_bytes": SIZES["segment"],
        "sessions": len(viewers),
        "nginx_worker_processes": 1,
        **{
            f"{key}_requests_per_second": round(r.requests_per_second, 1)
            for key, r in figures.items()
        },
        **{f"{key}_p99_ms": round(r.p99_ms, 2) for key, r in figures.items()},
        "ratio_to_plain_nginx": _ratio(figures, "segment"),
        "small_file_ratio_to_plain_nginx": _ratio(figures, "small"),
        **revoked,
    }
    return result


def _ratio(figures: dict[str, LoadResult], name: str) -> float:
    live, plain = figures[f"{name}_live"], figures[f"{name}_plain"]
    return round(live.requests_per_second / plain.requests_per_second, 3)


def _revocations(box: Box, nginx_url: str, event_id: str) -> dict[str, Any]:
    """Milliseconds from the refund webhook to the first 403 a segment poller sees."""
    delays: list[float] = []
    for n in range(REVOCATIONS):
        delay, _ = timed_revocation(box, lambda viewer: Poller(
            nginx_url, {"X-Viewing-Token": viewer.token},
            path=f"/live/{event_id}/hd/small_00042.ts"), f"revocation {n + 1} through nginx")  # fmt: skip
        delays.append(delay)
    delays.sort()
    return {"revocations_through_nginx": REVOCATIONS,
            "revocation_p50_ms": round(statistics.median(delays), 2),
            "revocation_max_ms": round(delays[-1], 2)}  # fmt: skip
