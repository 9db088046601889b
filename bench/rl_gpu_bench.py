"""The stacked-agent PPO trainer on a GPU: 1024+ CartPole agents trained at once, environment
steps per second against purejaxrl's published anchor (2048 CartPole-v1 PPO agents, 500k steps
each, in about 98 s on one A100: about 10M steps/s, https://github.com/luchris429/purejaxrl).

    python bench/rl_gpu_bench.py                      # 2048 agents x 500k steps (needs CUDA)
    python bench/rl_gpu_bench.py --agents 2048 --steps 100000   # one short run (a lent GPU)
    python bench/rl_gpu_bench.py --quick              # 64 agents x 8k steps, any device (a smoke)

Prints one Markdown row per run. The trainer is the task's own (evaluators/tasks/rl/_shared/
ppo.py): the same code as on the CPU, no CUDA graphs yet. On a CUDA machine it first checks an
evaluation slot's sandbox (evaluators/devices.py): a warm worker given the first GPU runs a
CUDA product inside bubblewrap, and a row says what the candidate saw.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "evaluators" / "tasks" / "rl" / "_shared"))
from ppo import ppo_clip, train  # noqa: E402

from evaluators.sandbox import Limits  # noqa: E402
from evaluators.workers import WorkerPool  # noqa: E402

PUREJAXRL_STEPS_PER_S = 2048 * 500_000 / 98
IN_SLOT = """
import os, torch

def probe():
    x = torch.ones(256, 256, device="cuda")
    return {"visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "devices": torch.cuda.device_count(), "name": torch.cuda.get_device_name(0),
            "product": float((x @ x)[0, 0]), "nodes": sorted(n for n in os.listdir("/dev")
                                                            if n.startswith("nvidia"))}
"""
"""A candidate that computes on whatever GPU its sandbox shows it."""


def slot_check() -> None:
    """One warm worker pinned to one GPU: what its sandboxed candidate sees. CUDA reserves far
    more address space than it touches, so the address-space limit is lifted (RAM stays
    capped by the memory cgroup, where one can be made)."""
    limits = Limits(wall_s=180, cpu_s=180, memory_mb=2**20, processes=128)
    with WorkerPool(size=1, preload=("numpy", "torch"), gpus_per_slot=1) as pool, \
            pool.slot(limits) as slot:
        run = slot.run(IN_SLOT, "probe", {}, limits)
    print("| slot GPUs | isolation | status | candidate saw |")
    print("|---|---|---|---|")
    seen = run.outputs if run.status == "ok" else f"{run.reason} {run.error_tail or ''}"[:300]
    print(f"| {', '.join(g.node for g in slot.gpus)} | {pool.level} | {run.status} | {seen} |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=500_000, help="per agent")
    parser.add_argument("--env", default="cartpole")
    parser.add_argument("--quick", action="store_true", help="64 agents x 8k steps, any device")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.steps = 64, 8192
    elif not torch.cuda.is_available():
        sys.exit("no CUDA device visible: this bench measures the GPU (use --quick to smoke it)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        slot_check()
    train(args.env, ppo_clip, list(range(min(args.agents, 8))), 1024, device=device)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    begin = time.perf_counter()
    result = train(args.env, ppo_clip, list(range(args.agents)), args.steps, device=device)
    seconds = time.perf_counter() - begin  # train() ends by reading its curves back: synced
    rate = args.agents * args.steps / seconds
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    final = float(torch.tensor(result.curves[:, -5:]).nanmean())
    print("| device | game | agents | steps each | seconds | env steps/s | vs purejaxrl A100 "
          "| final return |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    print(f"| {name} | {args.env} | {args.agents} | {args.steps:,} | {seconds:.1f} | "
          f"{rate:,.0f} | {rate / PUREJAXRL_STEPS_PER_S:.2f}x | {final:.1f} |")


if __name__ == "__main__":
    main()
