"""Where a benchmark's time goes: py-spy samples the server's processes while it runs.

`python -m bench --profile NAMES` wraps each served benchmark in `Sampled`: py-spy
records every process of the API server (uvicorn's workers are its children) and of
the bench's Celery worker, without stopping them, as collapsed stacks. The summary
(bench/results/profile-<name>.txt, next to the raw stacks) gives, per process kind,
the share of samples in each of the most frequent leaf functions (where the CPU is)
and in each of the most frequent frames of our own code, counted once per stack
(which of our functions the time is spent under), so the note on a slow path can
say where its time went with figures rather than guesses.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import TracebackType

RATE = 250  # samples a second: enough for a few seconds of load, cheap for py-spy
TOP = 18
OURS = ("streamsvc/", "workers/")


class Sampled:
    """py-spy over the given root processes (and their children) while the block runs."""

    def __init__(self, name: str, roots: dict[str, int], results: Path) -> None:
        self.name = name
        self.roots = roots
        self.results = results
        self._spies: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def __enter__(self) -> Sampled:
        # the venv's own, beside this interpreter (make does not put .venv/bin on PATH)
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if spy is None:
            raise RuntimeError("py-spy is not installed (make .venv/.installed)")
        for kind, pid in self.roots.items():
            raw = self.results / f"profile-{self.name}-{kind}.stacks"
            process = subprocess.Popen(
                [spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
                 "--rate", str(RATE), "--format", "raw", "--output", str(raw)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self._spies[kind] = (process, raw)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # py-spy writes its file when interrupted, as on Ctrl-C.
        for process, _ in self._spies.values():
            process.send_signal(signal.SIGINT)
        for process, _ in self._spies.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        report = [summary(kind, raw) for kind, (_, raw) in self._spies.items() if raw.exists()]
        (self.results / f"profile-{self.name}.txt").write_text("\n".join(report))


def summary(kind: str, raw: Path) -> str:
    """The leaf functions and our own frames with the largest shares of samples."""
    leaves: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames if any(o in f for o in OURS)}:
            ours[frame] += count
    lines = [f"== {kind}: {total} samples at {RATE}/s (threads at work; idle ones are not sampled)"]
    lines.append("-- leaf functions (where the CPU is)")
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in leaves.most_common(TOP)]
    lines.append("-- our frames (time spent under them, once per stack)")
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in ours.most_common(TOP)]
    return "\n".join(lines) + "\n"


def _short(frame: str) -> str:
    """`handle (streamsvc/http/endpoint.py:120)` without the site-packages prefix."""
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            return f"{head.strip()} ({tail.split(marker, 1)[-1].rstrip(')')})"
    return frame
