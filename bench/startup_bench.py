"""Start-up cost of the `discover` command line against bare Python (issue 27, item 8).

Every command pays the imports of the command line before it does anything: `discover --help`
and `discover runs` should cost little more than the interpreter's own start. For each command,
run `--repeats` times in a fresh process (`python -m discovery ...`, as the console script
does), the fastest wall time and the least CPU time (the child's user + system seconds: what
another process's load moves least), their ratios to `python -c pass` measured in the same run,
the number of modules imported (`-X importtime`) and which heavy ones (numpy, networkx,
pydantic, pygments, litellm, torch) are among them. `discover runs` lists a directory holding
one synthetic campaign. The target is 0.3 s on an idle machine; the load average is printed
with the figures, since a loaded machine's wall times say little. Prints Markdown; asserts
nothing.

    .venv/bin/python bench/startup_bench.py [--repeats 10]
    .venv/bin/python bench/startup_bench.py --quick   # 3 repeats
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from discovery.doubles.synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "networkx", "pydantic", "pygments", "litellm", "torch")
"""Packages whose import alone costs a large part of the 0.3 s target."""
TARGET_S = 0.3


def timed(argv: list[str], repeats: int) -> tuple[float, float]:
    """The fastest wall time and the least CPU time of `repeats` runs of `argv`."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    return min(walls), min(cpus)


def imported(argv: list[str]) -> list[str]:
    """The modules `argv` (a `python ...` command) imports, by name, from `-X importtime`."""
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=ROOT,
                          capture_output=True, text=True)
    return [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:") and "cumulative" not in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else args.repeats
    python = sys.executable
    with tempfile.TemporaryDirectory() as runs:
        generate(Path(runs) / "demo", 20, seed=0, name="demo")
        commands = {
            "python -c pass (baseline)": [python, "-c", "pass"],
            "discover --help": [python, "-m", "discovery", "--help"],
            "discover runs": [python, "-m", "discovery", "--runs-dir", runs, "runs"],
        }
        load = os.getloadavg()[0]
        figures = {name: timed(argv, repeats) for name, argv in commands.items()}
        modules = {name: imported(argv) for name, argv in commands.items()}
    base_wall, base_cpu = figures["python -c pass (baseline)"]
    print(f"Start-up of the command line, {repeats} runs each, fastest wall and least CPU; "
          f"load average {load:.2f} on {os.cpu_count()} cores; target {TARGET_S} s wall "
          "on an idle machine.\n")
    print("| command | wall s | CPU s | wall vs bare | CPU vs bare | modules | heavy modules |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, (wall, cpu) in figures.items():
        names = set(modules[name])
        heavy = ", ".join(h for h in HEAVY if h in names) or "none"
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / base_wall:.2f}x | "
              f"{cpu / base_cpu:.2f}x | {len(names):,} | {heavy} |")


if __name__ == "__main__":
    main()
