"""OpenEvolve and ShinkaEvolve task folders, unchanged, through our sandbox: for each folder
given (or each peer folder found below it, three levels deep), whether it loads, its seed
program's evaluation (status, score, seconds in the sandbox), and whether `discover convert`
can write its scorer. Prints a Markdown table; asserts nothing. The results table of
docs/bring-your-problem.md comes from this bench run on both repositories' examples:

    git --git-dir=<openevolve mirror> archive HEAD examples | tar -x -C /tmp/openevolve
    .venv/bin/python bench/peer_tasks_bench.py /tmp/openevolve/examples /tmp/shinka/examples

    .venv/bin/python bench/peer_tasks_bench.py --quick   # the copies shipped in tests/data/peers

Each stage's time limit is the folder's own (OpenEvolve's evaluator.timeout, Shinka's job
time), capped by --wall.
"""

import argparse
import sys
import time
from pathlib import Path

from evaluators.executors import open_executor
from evaluators.peers.formats import PeerFormatError, peer_kind, read_folder
from evaluators.peers.replay import replay_entry
from evaluators.task import Task, TaskError, load_task

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "tests" / "data" / "peers"


def peer_folders(paths: list[Path]) -> list[tuple[str, Path]]:
    """The peer folders among `paths` and below them (three levels), in order, each with its
    name: its path below the folder given."""
    found: list[tuple[str, Path]] = []
    for path in paths:
        levels = [path, *path.glob("*"), *path.glob("*/*"), *path.glob("*/*/*")]
        found += sorted((str(p.relative_to(path)) if p != path else p.name, p)
                        for p in levels if p.is_dir() and peer_kind(p) is not None)
    return found


def capped(task: Task, wall: float) -> Task:
    """The task with every stage's wall and CPU limit at most `wall` seconds."""
    stages = [s.model_copy(update={"limits": s.limits.model_copy(update={
        "wall_s": min(s.limits.wall_s, wall), "cpu_s": min(s.limits.cpu_s, wall)})})
        for s in task.config.stages]
    task.config = task.config.model_copy(update={"stages": stages})
    return task


def row(name: str, folder: Path, executor, wall: float) -> list[str]:
    kind = peer_kind(folder)
    try:
        task = capped(load_task(folder), wall)
    except TaskError as exc:
        return [name, kind, "no", "-", "-", "-", "-", str(exc).replace("|", "/")[:160]]
    begin = time.perf_counter()
    results = task.evaluate(task.seed_code, executor)
    seconds = time.perf_counter() - begin
    final = results[-1]
    try:
        entry, why = replay_entry(read_folder(folder))
        convert = f"yes ({entry})" if not why else f"no: {why.split(';')[0]}"
    except (PeerFormatError, SyntaxError) as exc:
        convert = f"no: {exc}"
    score = "-" if final.score is None else f"{final.score:.6g}"
    note = (final.reason or "").splitlines()[0][:160] if final.reason else ""
    for key in ("error", "cascade"):  # the evaluator's own word on a zero
        if isinstance(final.public_metrics.get(key), str):
            note += f"{key}: {final.public_metrics[key][:160]} "
    if final.error_tail and final.status != "ok":
        note += " / " + final.error_tail.strip().splitlines()[-1][:120]
    return [name, kind, "yes", f"{final.status} ({final.stage})", score,
            f"{seconds:.2f}", convert.replace("|", "/")[:100], note.replace("|", "/")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="peer folders, or folders of them")
    parser.add_argument("--quick", action="store_true",
                        help="the copies shipped in tests/data/peers")
    parser.add_argument("--wall", type=float, default=120.0,
                        help="cap on each stage's time limit, in seconds")
    args = parser.parse_args()
    folders = peer_folders([SHIPPED] if args.quick or not args.paths else args.paths)
    if not folders:
        sys.exit("no OpenEvolve (evaluator.py) or ShinkaEvolve (evaluate.py) folder found")
    print("| example | format | loads | seed (final stage) | score | seconds | convert | note |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with open_executor("fresh") as executor:
        for name, folder in folders:
            print("| " + " | ".join(row(name, folder, executor, args.wall)) + " |", flush=True)
    print(f"\n- isolation: {executor.level}; {len(folders)} folders; stage limits capped at "
          f"{args.wall:g} s")


if __name__ == "__main__":
    main()
