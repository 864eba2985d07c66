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

Every run starts from an empty `mutants/`: mutmut keeps a verdict until the function
it mutated changes, and keeps the map of which tests reach which function from the
run that first took it, so a test added or fixed since would never be asked about a
mutant that "survived" before (nor would a module added to `only_mutate` get tests).
`--resume` keeps `mutants/` (while working through survivors); its figures are then
those of several runs, not one ("complete": false). Names (globs) re-test only those
mutants and record nothing; `--report` runs nothing and records what `mutants/` holds.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [sys.executable, "-m", "mutmut"]
RESULTS = ROOT / "bench" / "results" / "mutation.json"
MUTANTS = ROOT / "mutants"
LOG = MUTANTS / "run.log"
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


def explained() -> dict[str, str]:
    """Each explained mutant and the test module that explains it."""
    names: dict[str, str] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for m in _EXPLAINED.finditer(path.read_text(encoding="utf-8")):
            names[m["name"]] = str(path.relative_to(ROOT))
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--resume", action="store_true",
                        help="keep mutants/ and its verdicts from earlier runs")  # fmt: skip
    parser.add_argument("mutants", nargs="*", help="only these (mutmut globs); implies --resume")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: record the verdicts in mutants/")  # fmt: skip
    args = parser.parse_args(argv)
    if not (args.resume or args.mutants or args.report):
        shutil.rmtree(MUTANTS, ignore_errors=True)
    MUTANTS.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    if not args.report:
        with LOG.open("w") as log:
            run = subprocess.run(
                [*MUTMUT, "run", *args.mutants],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if run.returncode != 0:
            print(f"mutmut run failed ({run.returncode}); see {LOG}", file=sys.stderr)
            return run.returncode
    seconds = (datetime.now(UTC) - started).total_seconds()
    found = verdicts()
    reasons = explained()
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, verdict in found.items():
        per_module[_module(name)][verdict] += 1
    unexplained = sorted(n for n, v in found.items() if v != "killed" and n not in reasons)
    # An explanation of a mutant that is killed or gone was written for other code: its
    # name now means another change (names are numbered per function). Modules left out
    # of only_mutate keep theirs for when they come back.
    mutated = {_module(name) for name in found}
    stale = sorted(
        n for n in reasons if _module(n) in mutated and found.get(n, "killed") == "killed"
    )
    record = {
        "name": "mutation",
        "measured_at": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        # One run from an empty mutants/ over every mutant; else verdicts of several runs.
        "complete": not (args.resume or args.mutants or args.report),
        "mutants": len(found),
        "verdicts": dict(Counter(found.values())),
        "explained": sorted(n for n, v in found.items() if v != "killed" and n in reasons),
        "unexplained": unexplained,
        "per_module": {module: dict(counts) for module, counts in sorted(per_module.items())},
    }
    if not args.mutants:  # a partial run would overwrite the figures of a whole one
        RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{'module':<40}" + "".join(f"{v:>12}" for v in ("killed", "survived", "other")))
    for module, counts in sorted(per_module.items()):
        other = sum(c for v, c in counts.items() if v not in ("killed", "survived"))
        print(f"{module:<40}{counts['killed']:>12}{counts['survived']:>12}{other:>12}")
    print(f"{len(found)} mutants in {seconds:.0f} s; results: {RESULTS}")
    for name in stale:
        print(f"stale explanation in {reasons[name]}: {name} is {found.get(name, 'gone')}")
    unchecked = [name for name in unexplained if found[name] == "not checked"]
    if unchecked:  # a partial run: no diffs for these
        print(f"{len(unchecked)} mutants not checked yet")
    for name in (name for name in unexplained if found[name] != "not checked"):
        diff = subprocess.run(
            [*MUTMUT, "show", name], cwd=ROOT, capture_output=True, text=True, check=False
        )
        print(f"\n{found[name]}, not explained in tests/: {name}\n{diff.stdout}")
    return 1 if unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main())
