"""The stacked-agent PPO trainer on a GPU: 1024+ CartPole agents trained at once, environment
steps per second against purejaxrl's published anchor (2048 CartPole-v1 PPO agents, 500k steps
each, in about 98 s on one A100: about 10M steps/s, https://github.com/luchris429/purejaxrl).

    python bench/rl_gpu_bench.py                      # 2048 agents x 500k steps (needs CUDA)
    python bench/rl_gpu_bench.py --agents 1024 --steps 100000
    python bench/rl_gpu_bench.py --quick              # 64 agents x 8k steps, any device (a smoke)

Prints one Markdown row per run. The trainer is the task's own (evaluators/tasks/rl/_shared/
ppo.py): the same code as on the CPU, no CUDA graphs yet.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluators" / "tasks" / "rl"
                       / "_shared"))
from ppo import ppo_clip, train

PUREJAXRL_STEPS_PER_S = 2048 * 500_000 / 98


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
