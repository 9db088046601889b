"""CFR+ on games too big for the CPU, on a GPU: the prepared script for the CFR GPU figure of
docs/performance.md (issue 28). In one run, per game, CFR+ iterations per second of
  - the numpy engine on the CPU: the CFR task's oracle running the seed rule (CFR+) in
    process, BLAS on one thread as in an evaluation (the baseline, 1.00x);
  - the same oracle holding the torch path's DeviceGame (cfr_torch.on_device: what the oracle
    holds in an evaluation slot with a GPU), the rule still called per player per iteration;
  - CFR+ wholly on the device (cfr_torch.cfr_plus: no candidate, no copies, no host syncs).
Each runs the same iterations and one exploitability measurement at the end (also timed on its
own), best of a few runs after a warm-up; the exploitabilities must agree (to 1e-10:
tests/evaluators/tasks/test_cfr_torch.py).
On CUDA it first checks that a CFR+ iteration never waits for the host
(torch.cuda.set_sync_debug_mode("error")). Prints Markdown; asserts nothing.

    python bench/cfr_gpu_bench.py                       # 3-player Leduc, Goofspiel 6, on CUDA
    python bench/cfr_gpu_bench.py --iterations 50 --device cuda:0
    python bench/cfr_gpu_bench.py --quick               # small games, CPU torch, seconds (CI)

Walking 3-player Leduc (1,043,952 terminals) takes half a minute and Goofspiel 6 (518,400)
about ten seconds the first time on a machine (then cfr_games' disk cache).
"""

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from evaluators.task import TASKS_DIR, task_folders  # noqa: E402

TASK = task_folders()["cfr"]
sys.path[:0] = [str(TASK), str(TASKS_DIR / "games" / "_shared")]
from cfr_games import flatten  # noqa: E402
from cfr_loop import REGRET_TOLERANCE, run  # noqa: E402
from cfr_oracle import CFR  # noqa: E402
from cfr_torch import DeviceGame, TorchGame, cfr_plus  # noqa: E402

GAMES = ["leduc_poker(players=3)", "goofspiel(num_cards=6,imp_info=True,points_order=descending)"]
QUICK_GAMES = ["kuhn_poker(players=3)", "leduc_poker"]


def seed_step():
    """The CFR task's seed rule (CFR+), as a campaign's first program."""
    spec = importlib.util.spec_from_file_location("cfr_seed", TASK / "seed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.step


def timed(fn: Callable[[], float], device: torch.device, repeats: int) -> tuple[float, float]:
    """Seconds `fn()` takes, the best of `repeats` after one warm-up run (first kernels, the
    allocator, imports; the machine may be shared: the best run is the least disturbed), the
    device's queue drained before and after each; and its result."""
    result = fn()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        begin = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - begin)
    return best, result


def oracle(game, iterations: int) -> float:
    """The oracle's CFR+ (the seed rule called in process): its exploitability at the end."""
    cfr = CFR(game, [iterations])
    run(seed_step(), lambda *args: cfr(list(args)))
    return cfr.exploitability[iterations]


def sync_check(on: TorchGame) -> str:
    """Whether a CFR+ iteration on CUDA runs without waiting for the host."""
    cfr_plus(on, 1, REGRET_TOLERANCE)  # warm: first kernels, allocator
    torch.cuda.synchronize(on.device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        cfr_plus(on, 2, REGRET_TOLERANCE)
        return "none"
    except RuntimeError as exc:
        return f"yes: {str(exc).splitlines()[0][:200]}"
    finally:
        torch.cuda.set_sync_debug_mode("default")


def bench(name: str, iterations: int, device: torch.device, repeats: int) -> None:
    game = flatten(name).game
    on, held, cpu = TorchGame(game, device), DeviceGame(game, device), torch.device("cpu")
    with threadpool_limits(1):
        seconds, value = timed(lambda: oracle(game, iterations), cpu, repeats)
        measure, _ = timed(lambda: game.nash_conv(game.uniform()), cpu, repeats)
    rows = [("numpy engine (oracle + seed rule)", "cpu", seconds, measure, value)]
    seconds, value = timed(lambda: oracle(held, iterations), device, repeats)
    measure, _ = timed(lambda: on.nash_conv(on.uniform()), device, repeats)
    rows.append(("torch path (oracle + seed rule)", str(device), seconds, measure, value))
    seconds, value = timed(lambda: on.nash_conv(cfr_plus(on, iterations, REGRET_TOLERANCE))
                           / game.num_players, device, repeats)
    rows.append(("torch CFR+ wholly on the device", str(device), seconds, measure, value))
    base = rows[0][2]
    for path, where, seconds, measure, value in rows:
        print(f"| {name} | {len(game.terminal_payoff):,} | {path} | {where} | {iterations} | "
              f"{seconds / iterations * 1000:.2f} | {iterations / seconds:.1f} | "
              f"{measure * 1000:.1f} | {value:.6e} | {base / seconds:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--games", nargs="+", default=GAMES, help="OpenSpiel load strings")
    parser.add_argument("--quick", action="store_true",
                        help="3-player Kuhn and Leduc, 5 iterations, CPU torch (a smoke)")
    args = parser.parse_args()
    if args.quick:
        args.iterations, args.repeats, args.device, args.games = 5, 2, "cpu", QUICK_GAMES
    device = torch.device(args.device)
    if device.type == "cpu":  # one thread, as the numpy engine in an evaluation (and torch's
        torch.set_num_threads(1)  # thread pool stalls for milliseconds on a loaded machine)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        print(f"device: {name}; host syncs inside a CFR+ iteration: "
              f"{sync_check(TorchGame(flatten(args.games[0]).game, device))}\n")
    print("| game | terminals | path | device | iterations | ms / iteration | iterations/s "
          "| NashConv ms | exploitability | vs numpy |")
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for game in args.games:
        bench(game, args.iterations, device, args.repeats)
    print("\nms / iteration: the iterations and one exploitability measurement, per iteration; "
          "NashConv ms: one measurement alone (of the uniform policy).")


if __name__ == "__main__":
    main()
