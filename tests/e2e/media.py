"""A real media stack for the end-to-end test: ffmpeg makes an HLS stream in two
qualities, nginx serves it behind auth_request to our authorize endpoint."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from streamsvc.embedded import free_port, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# The README's configuration (Viewing): authorize is sent the normalised path ($uri, as
# nginx serves it) and the token in a header, never in a logged query string.
NGINX_CONF = """
daemon off;
master_process off;
user root;
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 64; }}
http {{
  log_format streamsvc '$remote_addr [$time_local] "$request_method $uri $server_protocol" '
                       '$status $body_bytes_sent "$http_user_agent"';
  access_log {dir}/access.log streamsvc;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
  map $viewing_query_token $viewing_token {{
    ""      $http_x_viewing_token;
    default $viewing_query_token;
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
    location = /_streamsvc_authorize {{
      internal;
      proxy_pass {api}/v1/viewing/authorize;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $viewing_uri;
      proxy_set_header X-Viewing-Token $viewing_token;
    }}
  }}
}}
"""


def media_stack_available() -> bool:
    if shutil.which("ffmpeg") and Path(NGINX).exists():
        return True
    installer = ROOT / "scripts" / "install-media-stack"
    result = subprocess.run([str(installer)], capture_output=True, timeout=900, check=False)
    return result.returncode == 0 and bool(shutil.which("ffmpeg")) and Path(NGINX).exists()


def make_hls(www: Path, event_id: str) -> None:
    """Four seconds of test pattern in sd and hd, as HLS with one-second segments."""
    for quality, size in (("sd", "320x180"), ("hd", "640x360")):
        out = www / "live" / event_id / quality
        out.mkdir(parents=True)
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
             "-i", f"testsrc=size={size}:rate=25:duration=4", "-c:v", "libx264",
             "-preset", "ultrafast", "-g", "25", "-f", "hls", "-hls_time", "1",
             "-hls_list_size", "0", "-hls_segment_filename", str(out / "seg_%03d.ts"),
             str(out / "index.m3u8")],
            check=True, timeout=120,
        )  # fmt: skip


class Nginx:
    def __init__(self, directory: Path, api_base: str) -> None:
        self.directory = directory
        self.port = free_port()
        (directory / "tmp").mkdir(exist_ok=True)
        conf = directory / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=directory, port=self.port, api=api_base))
        self.process = subprocess.Popen(
            [NGINX, "-p", str(directory), "-c", str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, self.process)

    @property
    def access_log(self) -> str:
        return (self.directory / "access.log").read_text()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
