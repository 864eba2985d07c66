"""A real media stack for the end-to-end tests: ffmpeg makes an HLS stream (a master
playlist, sd and hd video, one WebVTT subtitle rendition), nginx serves it behind
auth_request to our authorize endpoint and answers CORS for the pages' origin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from streamsvc.embedded import free_port, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# The origin of the pages when a test names none: CORS is answered for it alone.
DEFAULT_PAGES_ORIGIN = "https://tickets.example.org"

# The README's configuration (Viewing): authorize is sent the normalised path ($uri, as
# nginx serves it) and the token in a header, never in a logged query string. The
# pages live on another origin than the stream, so every answer (401 and 403 too, or
# the player could not tell them from a network error) names the pages' origin, and a
# preflight is answered 204 before auth_request (it carries no token).
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
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; text/vtt vtt; }}
  map $http_origin $viewing_cors_origin {{
    default "";
    "{pages}" $http_origin;
  }}
  map $viewing_query_token $viewing_token {{
    ""      $http_x_viewing_token;
    default $viewing_query_token;
  }}
  upstream streamsvc_authorize {{
    server {api_host};
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
    location /live/ {{
      add_header Access-Control-Allow-Origin $viewing_cors_origin always;
      add_header Access-Control-Allow-Methods "GET, HEAD, OPTIONS" always;
      add_header Access-Control-Allow-Headers "Authorization, X-Viewing-Token, Range" always;
      add_header Access-Control-Max-Age 600 always;
      add_header Vary Origin always;
      if ($request_method = OPTIONS) {{ return 204; }}
      location ~ "[^A-Za-z0-9._/-]" {{ return 403; }}
      log_not_found off;
      set $viewing_uri $uri;
      set $viewing_query_token $arg_token;
      auth_request /_streamsvc_authorize;
    }}
    # Recordings (recordings/models.py): the same guard, the same authorize.
    location /vod/ {{
      add_header Access-Control-Allow-Origin $viewing_cors_origin always;
      add_header Access-Control-Allow-Methods "GET, HEAD, OPTIONS" always;
      add_header Access-Control-Allow-Headers "Authorization, X-Viewing-Token, Range" always;
      add_header Access-Control-Max-Age 600 always;
      add_header Vary Origin always;
      if ($request_method = OPTIONS) {{ return 204; }}
      location ~ "[^A-Za-z0-9._/-]" {{ return 403; }}
      log_not_found off;
      set $viewing_uri $uri;
      set $viewing_query_token $arg_token;
      auth_request /_streamsvc_authorize;
    }}
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


def media_stack_available() -> bool:
    if shutil.which("ffmpeg") and Path(NGINX).exists():
        return True
    installer = ROOT / "scripts" / "install-media-stack"
    result = subprocess.run([str(installer)], capture_output=True, timeout=900, check=False)
    return result.returncode == 0 and bool(shutil.which("ffmpeg")) and Path(NGINX).exists()


SIZES = {"sd": "320x180", "hd": "640x360"}
BANDWIDTH = {"sd": 400_000, "hd": 1_200_000}
SUBTITLE_SECONDS = 10  # one WebVTT segment, and one cue, per ten seconds
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands", "fr": "Français"}


def _clip(quality: str, seconds: int) -> Path:
    """A small H.264 test pattern (4:2:0, a keyframe each second, which every browser
    plays), encoded once per machine and size and then only cut into segments."""
    cache = Path(tempfile.gettempdir()) / "streamsvc-e2e-clips"
    cache.mkdir(exist_ok=True)
    clip = cache / f"{quality}-{seconds}s.mp4"
    if not clip.exists():
        partial = cache / f".{quality}-{seconds}s.{os.getpid()}.mp4"
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", f"testsrc=size={SIZES[quality]}:rate=25:duration={seconds}",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", str(partial)],
            check=True, timeout=120,
        )  # fmt: skip
        os.replace(partial, clip)  # concurrent runs: whole files only
    return clip


def _first_pts(segment: Path) -> int:
    """The first presentation time of a segment in 90 kHz ticks (for X-TIMESTAMP-MAP)."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=start_time", "-of", "json",
         str(segment)],
        check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return round(float(json.loads(probe.stdout)["format"]["start_time"]) * 90_000)


def _subtitles(out: Path, seconds: int, mpegts: int) -> None:
    """A WebVTT rendition: one cue per ten seconds, as HLS segments whose cue times start
    at the video's first presentation time `mpegts`."""
    out.mkdir(parents=True)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SUBTITLE_SECONDS}",
             "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]  # fmt: skip
    for index, start in enumerate(range(0, seconds, SUBTITLE_SECONDS)):
        length = min(SUBTITLE_SECONDS, seconds - start)
        (out / f"sub_{index:03d}.vtt").write_text(
            "WEBVTT\n"
            f"X-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n\n"
            f"{_vtt_time(start)} --> {_vtt_time(start + length)}\n"
            f"Test pattern, part {index + 1}\n"
        )
        lines += [f"#EXTINF:{length}.000,", f"sub_{index:03d}.vtt"]
    (out / "index.m3u8").write_text("\n".join([*lines, "#EXT-X-ENDLIST", ""]))


def _vtt_time(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}.000"


def make_hls(www: Path, event_id: str, seconds: int = 4, subtitles: str = "en",
             prefix: str = "live") -> None:  # fmt: skip
    """`seconds` of test pattern in sd and hd with one-second segments, a WebVTT
    rendition `subs-{subtitles}`, and the master playlist `index.m3u8` naming them
    (EXT-X-MEDIA TYPE=SUBTITLES), at /{prefix}/{event_id}/ under `www` (a recording's:
    prefix `vod`, its id). Made aside and moved into place at once: a player never sees
    half a stream."""
    staging = www / prefix / f".{event_id}.partial"
    for quality in SIZES:
        out = staging / quality
        out.mkdir(parents=True)
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(_clip(quality, seconds)),
             "-c", "copy", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
             "-hls_playlist_type", "vod", "-hls_segment_filename", str(out / "seg_%03d.ts"),
             str(out / "index.m3u8")],
            check=True, timeout=120,
        )  # fmt: skip
    rendition, name = f"subs-{subtitles}", LANGUAGE_NAMES.get(subtitles, subtitles)
    _subtitles(staging / rendition, seconds, _first_pts(staging / "sd" / "seg_000.ts"))
    master = [
        "#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{name}",LANGUAGE="{subtitles}",'
        f'DEFAULT=NO,AUTOSELECT=YES,URI="{rendition}/index.m3u8"',
    ]  # fmt: skip
    for quality, size in SIZES.items():
        master += [f"#EXT-X-STREAM-INF:BANDWIDTH={BANDWIDTH[quality]},RESOLUTION={size},"
                   'SUBTITLES="subs"', f"{quality}/index.m3u8"]  # fmt: skip
    (staging / "index.m3u8").write_text("\n".join([*master, ""]))
    staging.rename(www / prefix / event_id)


class Nginx:
    def __init__(
        self, directory: Path, api_base: str, pages_origin: str = DEFAULT_PAGES_ORIGIN
    ) -> None:
        self.directory = directory
        self.port = free_port()
        (directory / "tmp").mkdir(exist_ok=True)
        conf = directory / "nginx.conf"
        api_host = api_base.removeprefix("http://")
        conf.write_text(
            NGINX_CONF.format(dir=directory, port=self.port, pages=pages_origin, api_host=api_host)
        )
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
