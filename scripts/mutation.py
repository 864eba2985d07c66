"""`make mutation`: run mutmut over the money and access paths and judge the result.

mutmut (configured in pyproject.toml, [tool.mutmut]) copies the code to `mutants/`,
changes one thing at a time (a comparison, a constant, a call dropped) and runs the
tests that reach the changed function. A mutant no test notices is a bug the suite
would let through. Some mutants cannot be noticed because they change nothing
observable (an equivalent mutant); each of those is explained where its tests live,
by a comment in a test module:

    # mutant streamsvc.kit.money.x_allocate__mutmut_7: `<` for `<=` on a bound no
    #   input reaches: ...

This script runs mutmut, counts the verdicts per module, writes them to
bench/results/mutation.json, prints every survivor nobody explained (with its diff),
and exits non-zero when there is one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [sys.executable, "-m", "mutmut"]
RESULTS = ROOT / "bench" / "results" / "mutation.json"
LOG = ROOT / "mutants" / "run.log"
_VERDICT = re.compile(r"^\s+(?P<name>[\w.ǁ]+__mutmut_\d+): (?P<verdict>.+)$")
_EXPLAINED = re.compile(r"#\s*mutant\s+(?P<name>[\w.ǁ]+__mutmut_\d+)\s*:")


def _module(name: str) -> str:
    """streamsvc.kit.money.x_allocate__mutmut_3 -> streamsvc.kit.money"""
    return name.rsplit(".", 1)[0]


def verdicts() -> dict[str, str]:
    out = subprocess.run(
        [*MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {m["name"]: m["verdict"].strip() for m in map(_VERDICT.match, out.splitlines()) if m}


def explained() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        names.update(m["name"] for m in _EXPLAINED.finditer(path.read_text(encoding="utf-8")))
    return names


def main() -> int:
    LOG.parent.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    with LOG.open("w") as log:
        run = subprocess.run(
            [*MUTMUT, "run"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    seconds = (datetime.now(UTC) - started).total_seconds()
    if run.returncode != 0:
        print(f"mutmut run failed ({run.returncode}); see {LOG}", file=sys.stderr)
        return run.returncode
    found = verdicts()
    reasons = explained()
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, verdict in found.items():
        per_module[_module(name)][verdict] += 1
    unexplained = sorted(n for n, v in found.items() if v != "killed" and n not in reasons)
    record = {
        "name": "mutation",
        "measured_at": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "mutants": len(found),
        "verdicts": dict(Counter(found.values())),
        "explained": sorted(n for n, v in found.items() if v != "killed" and n in reasons),
        "unexplained": unexplained,
        "per_module": {module: dict(counts) for module, counts in sorted(per_module.items())},
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{'module':<40}" + "".join(f"{v:>12}" for v in ("killed", "survived", "other")))
    for module, counts in sorted(per_module.items()):
        other = sum(c for v, c in counts.items() if v not in ("killed", "survived"))
        print(f"{module:<40}{counts['killed']:>12}{counts['survived']:>12}{other:>12}")
    print(f"{len(found)} mutants in {seconds:.0f} s; results: {RESULTS}")
    for name in unexplained:
        diff = subprocess.run(
            [*MUTMUT, "show", name], cwd=ROOT, capture_output=True, text=True, check=False
        )
        print(f"\n{found[name]}, not explained in tests/: {name}\n{diff.stdout}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
