"""Archive figures at 1k, 10k and 100k programs: insert rate, parent-sampling latency, graph build.

Each sampling figure is set against a baseline measured in the same run: the same weighted draw
done the naive way (read every ok program of the island into Python, then weigh them), which is
what a store without a ranking index must do per call. Prints a Markdown table; asserts nothing.

    .venv/bin/python bench/archive_bench.py [--sizes 1000 10000 100000]
    .venv/bin/python bench/archive_bench.py --quick   # seconds: 1000 programs, fewer repeats
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from archive import ArchiveReader, ArchiveWriter, EvaluationResult, ModelCall, NewProgram
from archive.lineage import build_graph
from archive.sampling import weighted_choice

ISLANDS = 4
CODE = "# EVOLVE-BLOCK-START\ndef f(x):\n    return x * {a!r} + {b!r}\n# EVOLVE-BLOCK-END\n"


def fill(path: Path, n: int, rng: random.Random) -> float:
    """Insert n programs the way the campaign loop does (program, model call and two stages of
    evaluation committed together, one transaction per program); returns programs per second."""
    writer = ArchiveWriter.create(path, name="bench", task="bench", config={}, seed=0,
                                  evaluator_version="v1")
    start = time.perf_counter()
    for i in range(n):
        parents = (rng.randrange(1, i + 1),) if i >= ISLANDS else ()
        with writer.batch():
            pid = writer.add_program(NewProgram(
                CODE.format(a=rng.random(), b=i), parents=parents, island=i % ISLANDS,
                model="m", edit_kind="diff"))
            writer.record_model_call(ModelCall("m", "propose", 2000, 400, 0.001, 1.0,
                                               program_id=pid))
            writer.record_evaluation(pid, EvaluationResult("smoke", "ok"), final=False)
            if rng.random() < 0.2:
                writer.record_evaluation(pid, EvaluationResult("full", "crashed", reason="x"))
            else:
                writer.record_evaluation(pid, EvaluationResult(
                    "full", "ok", score=rng.random(), public_metrics={"a": 1}))
    rate = n / (time.perf_counter() - start)
    writer.close()
    return rate


def naive_sample(reader: ArchiveReader, rng: random.Random, island: int) -> int:
    rows = reader._conn.execute(
        "SELECT id, score, n_children FROM programs WHERE status = 'ok' AND island = ?",
        (island,)).fetchall()
    ids, scores, children = zip(*rows, strict=True)
    return weighted_choice(rng, ids, scores, children, 10.0)


def median_ms(fn, repeats: int = 200) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(path: Path, n: int, rng: random.Random, repeats: int) -> str:
    rate = fill(path, n, rng)
    with ArchiveReader(path) as reader:
        top = median_ms(lambda: reader.top_k(10, island=rng.randrange(ISLANDS)), repeats)
        sample = median_ms(lambda: reader.sample_parent(rng, rng.randrange(ISLANDS)), repeats)
        naive = median_ms(lambda: naive_sample(reader, rng, rng.randrange(ISLANDS)),
                          max(5, repeats // 10))
        start = time.perf_counter()
        graph = build_graph(reader)
        build = time.perf_counter() - start
    assert graph.number_of_nodes() == n
    size = sum(p.stat().st_size for p in path.parent.iterdir()) / 1e6
    return (f"| {n:,} | {rate:,.0f} | {top:.2f} | {sample:.2f} | {naive:.2f} | "
            f"{naive / sample:.1f}x | {build:.2f} | {size:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per figure")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: --sizes 1000 --repeats 50")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats = [1000], 50
    rng = random.Random(0)
    print("| programs | insert (programs/s) | top-10 per island (ms) | weighted sample (ms) "
          "| naive sample (ms) | naive / indexed | build graph (s) | files (MB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            print(measure(Path(tmp) / f"n{n}" / "archive.sqlite", n, rng, args.repeats),
                  flush=True)


if __name__ == "__main__":
    main()
