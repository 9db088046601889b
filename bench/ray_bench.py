"""The Ray executor against node count, on a real multi-node Ray cluster on this machine.

A head and 0-2 worker nodes (separate raylets, 1 CPU each, started by local_cluster
as `ray start` would), one slot per node, and a CPU-bound candidate that burns a fixed amount of
CPU time: evaluations per second for 1, 2 and 3 nodes, against the local warm pool with as many
workers on the same cores. On one machine the nodes share its cores, so the curve flattens once
the nodes outnumber them: this measures what a node costs (its start, its memory, the time Ray
adds to each case), not what a cluster of real machines gains. Prints Markdown; asserts
nothing.

    .venv/bin/python bench/ray_bench.py [--nodes 1 2 3] [--burn-s 0.5] [--cases 24]
    .venv/bin/python bench/ray_bench.py --quick   # about 20 s: 1 and 2 nodes, 0.1 s burns
"""

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ray
from sandbox_bench import timed, trivial_task

from evaluators.ray_executor import RayExecutor, local_cluster
from evaluators.task import Task, load_task
from evaluators.workers import WorkerPool


def burner(seconds: float) -> str:
    """A candidate that spends `seconds` of CPU time (not wall time: it must compete for the
    cores) and returns 1."""
    return ("import time\n\n\ndef f():\n    end = time.process_time() + "
            f"{seconds}\n    while time.process_time() < end:\n        pass\n    return 1\n")


def per_second(task: Task, executor, code: str, threads: int, total: int) -> float:
    """Evaluations per second with `threads` evaluations in flight (as a campaign's
    parallel.evaluations keeps them)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda _: task.evaluate(code, executor)[-1], range(total)))
    elapsed = time.perf_counter() - start
    assert all(r.status == "ok" for r in results), [r.reason for r in results]
    return total / elapsed


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    return children


def _tree(pids: list[int], children: dict[int, list[int]]) -> set[int]:
    found, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def _pss_mb(pids: set[int]) -> float:
    """Proportional set size: shared pages (libraries, numpy) split between their users, so
    the sum over processes is what they cost together."""
    total_kb = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total_kb += next(int(line.split()[1]) for line in rollup.splitlines()
                         if line.startswith("Pss:"))
    return total_kb / 1024


def node_memory(node) -> tuple[float, float]:
    """PSS MB of a node's processes (raylet, agents; the GCS on the head) and of its slot
    (the `ray::_Slot` worker and the warm worker under it)."""
    children = _children()
    roots = [info.process.pid for infos in node.all_processes.values() for info in infos]
    everything = _tree(roots, children)
    slots = [pid for pid in everything if b"ray::_Slot" in _cmdline(pid)]
    slot = _tree(slots, children)
    return _pss_mb(everything - slot), _pss_mb(slot)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def measure(nodes: int, task: Task, code: str, cases: int, repeats: int) -> dict:
    """Start a cluster of `nodes` 1-CPU nodes, run the cases on one slot per node, stop it."""
    start = time.perf_counter()
    with local_cluster() as cluster:
        figures: dict = {"head_s": time.perf_counter() - start, "node_s": []}
        for _ in range(nodes - 1):
            start = time.perf_counter()
            cluster.add_node(num_cpus=1)
            figures["node_s"].append(time.perf_counter() - start)
        ray.init(address=cluster.address, log_to_driver=False)
        executor = RayExecutor(slots=nodes, preload=())
        try:
            per_second(task, executor, task.seed_code, nodes, nodes)  # every warm worker up
            figures["rate"] = per_second(task, executor, code, nodes, cases)
            figures["case_ms"] = timed(lambda: task.evaluate(task.seed_code, executor)[-1],
                                       repeats)[0]
            memory = [node_memory(node) for node in cluster.list_all_nodes()]
            figures["head_mb"], figures["slot_mb"] = memory[0][0], memory[0][1]
            figures["worker_mb"] = [mb for mb, _ in memory[1:]]
        finally:
            executor.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--burn-s", type=float, default=0.5,
                        help="CPU seconds each evaluation burns")
    parser.add_argument("--cases", type=int, default=24,
                        help="CPU-bound evaluations timed per node count")
    parser.add_argument("--repeats", type=int, default=30,
                        help="trivial cases timed for the per-case overhead")
    parser.add_argument("--quick", action="store_true",
                        help="about 20 s: --nodes 1 2 --burn-s 0.1 --cases 6 --repeats 5")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.burn_s, args.cases, args.repeats = [1, 2], 0.1, 6, 5
    code = burner(args.burn_s)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores (load average {load:.1f} at the start); each evaluation "
          f"burns {args.burn_s} CPU s\n")
    print("| nodes (1 CPU each) | Ray slots | Ray evaluations/s | vs 1 node | local warm pool "
          "(as many workers) evaluations/s | trivial case on Ray, median ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    rows, baseline = [], None
    with tempfile.TemporaryDirectory() as tmp:
        task = load_task(trivial_task(Path(tmp)))
        with WorkerPool(size=1, preload=()) as pool:
            local_ms = timed(lambda: task.evaluate(task.seed_code, pool)[-1], args.repeats)[0]
        for nodes in args.nodes:
            with WorkerPool(size=nodes, preload=()) as pool:
                per_second(task, pool, task.seed_code, nodes, nodes)
                local = per_second(task, pool, code, nodes, args.cases)
            figures = measure(nodes, task, code, args.cases, args.repeats)
            rows.append(figures)
            baseline = baseline or figures["rate"]
            print(f"| {nodes} | {nodes} | {figures['rate']:.2f} | "
                  f"{figures['rate'] / baseline:.2f}x | {local:.2f} | "
                  f"{figures['case_ms']:.1f} |", flush=True)
    node_s = [s for r in rows for s in r["node_s"]]
    worker_mb = [mb for r in rows for mb in r["worker_mb"]]
    case_ms = statistics.median(r["case_ms"] for r in rows)
    print(f"\n- node start: head {statistics.median(r['head_s'] for r in rows):.1f} s"
          + (f", worker node {statistics.median(node_s):.1f} s (median)" if node_s else ""))
    print(f"- memory (PSS): head node processes {statistics.median(r['head_mb'] for r in rows):.0f}"
          " MB" + (f", worker node processes {statistics.median(worker_mb):.0f} MB" if worker_mb
                   else "") + ", one slot (its Ray worker and warm worker) "
          f"{statistics.median(r['slot_mb'] for r in rows):.0f} MB")
    print(f"- per case: {case_ms:.1f} ms on a Ray slot against {local_ms:.1f} ms on a local warm "
          f"worker (trivial candidate, median): Ray adds {case_ms - local_ms:.1f} ms")
    print(f"- load average at the end: {os.getloadavg()[0]:.1f} (other jobs on these cores "
          "slow every row alike)")


if __name__ == "__main__":
    main()
