"""Reference figures of the ppo_objective task: the anchors every score is normalised by, and
the baselines' table of its README.

Every baseline (the seed and evaluators/tasks/rl/ppo_objective/baselines/*.py) is traced as in
the sandbox, rebuilt from its plain-data graph as the scorer does, and trained as the scorer
trains a candidate: its seeds as one stack (paired seeds across baselines), plus the untrained
policy. PPO-clip's areas and the untrained policy's are the run's anchors, stored per platform
(torch version and device capability: scorer.platform) on which they were measured: runs repeat
bit for bit on one platform only, so each machine kind a campaign scores on measures its own.

    python bench/rl_reference_bench.py --anchors   # runs without anchors for their code: measure
    python bench/rl_reference_bench.py --anchors --again --stage train   # re-measure a stage
    python bench/rl_reference_bench.py --stage train   # the table of one stage (stored anchors)
    python bench/rl_reference_bench.py --anchors --device cuda   # anchors for GPU slots
    python bench/rl_reference_bench.py --quick         # seconds (CI): CartPole 10k steps, 2 seeds
"""

import argparse
import importlib.util
import json
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

TASK = Path(__file__).resolve().parents[1] / "evaluators" / "tasks" / "rl" / "ppo_objective"
sys.path.insert(0, str(TASK.parent / "_shared"))

from drift_graph import Graph  # noqa: E402
from ppo import config_for, train  # noqa: E402


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scorer = load(TASK / "scorer.py", "ppo_objective_scorer")


def baselines(only: list[str] | None) -> dict[str, Graph]:
    """Name -> the drift rebuilt from its traced graph (JSON round trip, as from the sandbox):
    the seed (PPO-clip, the anchor) first, then the baselines named in `only` (all if None)."""
    paths = {"ppo_clip (seed)": TASK / "seed.py"}
    paths |= {p.stem: p for p in sorted((TASK / "baselines").glob("*.py"))
              if p.stem != "ppo_clip" and (only is None or p.stem in only)}
    return {name: Graph.from_json(json.loads(json.dumps(load(path, f"b_{i}").objective())))
            for i, (name, path) in enumerate(paths.items())}


def measure(graphs: dict[str, Graph], secret: dict,
            device: str) -> tuple[dict[str, dict], dict]:
    """Every baseline on every run of a suite, and the anchors. Each baseline trains its seeds
    as one stack of its own, exactly as the scorer trains a candidate: stacks of different
    sizes agree only to the last bits (the task README says why), and anchors measured this
    way make the seed score exactly 1 wherever it is evaluated."""
    seeds, names = secret["seeds"], list(graphs)
    where = scorer.platform(device)
    results: dict[str, dict] = {name: {} for name in names}
    anchors = {}
    for run in secret["runs"]:
        config = config_for(run["env"], **run.get("overrides", {}))
        begin = time.perf_counter()
        for name, graph in graphs.items():
            result = train(run["env"], graph, seeds, run["steps"], config, device)
            results[name][scorer.run_name(run)] = scorer.summary(result)
        random = train(run["env"], graphs[names[0]], seeds, run["steps"], config, device,
                       learn=False)
        print(f"  {scorer.run_name(run)}: {len(names)} drifts x {len(seeds)} seeds, "
              f"{time.perf_counter() - begin:.0f} s", file=sys.stderr)
        anchors[scorer.anchor_key(run, seeds, where)] = {
            "version": scorer.code_version(run["env"]),
            "ppo": results[names[0]][scorer.run_name(run)]["area"],
            "random": scorer.area(random.curves).tolist()}
    return results, anchors


def fresh(run: dict, secret: dict, device: str) -> bool:
    """Whether the run has anchors measured on its current code and this platform."""
    try:
        scorer.stored_anchor(run, secret["seeds"], device)
    except ValueError:
        return False
    return True


def interval(values: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    means = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(1000)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def current(anchors: dict) -> dict:
    """The stored anchors still measured on their run's current code (stale ones dropped)."""
    return {key: value for key, value in anchors.items()
            if value["version"] == scorer.code_version(json.loads(key)["env"])}


def table(stage: str, secret: dict, results: dict[str, dict], anchors: dict | None,
          device: str) -> None:
    """The Markdown table of a stage; `anchors` None: the stored ones."""
    runs = [scorer.run_name(run) for run in secret["runs"]]
    print(f"\n{stage} ({len(secret['seeds'])} seeds; per game: mean normalised area "
          "[95% bootstrap interval over seeds]; return: mean area in raw return)\n")
    print("| drift | IQM [95% CI] | " + " | ".join(runs) + " |")
    print("|---|---:|" + "---:|" * len(runs))
    for name, result in results.items():
        metrics = scorer.aggregate(result, secret, device, anchors)
        cells = []
        for run in secret["runs"]:
            anchor = scorer.stored_anchor(run, secret["seeds"], device) if anchors is None \
                else anchors[scorer.anchor_key(run, secret["seeds"], scorer.platform(device))]
            low, high = np.mean(anchor["random"]), np.mean(anchor["ppo"])
            scores = (np.array(result[scorer.run_name(run)]["area"]) - low) / (high - low)
            lo, hi = interval(scores)
            cells.append(f"{scores.mean():.2f} [{lo:.2f}, {hi:.2f}] "
                         f"({np.mean(result[scorer.run_name(run)]['area']):.1f})")
        print(f"| {name} | {metrics.score:.2f} [{metrics.public['ci_low']:.2f}, "
              f"{metrics.public['ci_high']:.2f}] | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", action="store_true",
                        help="measure every stage of task.toml and store anchors.json")
    parser.add_argument("--stage", action="append", default=[],
                        help="a stage to tabulate (with --anchors: to measure) (repeatable)")
    parser.add_argument("--again", action="store_true",
                        help="with --anchors: re-measure runs whose anchors are up to date too")
    parser.add_argument("--only", nargs="*", metavar="BASELINE",
                        help="train only these baselines besides the seed (`--only` alone: "
                             "the seed only, for anchors)")
    parser.add_argument("--device", default="cpu",
                        help="train on this torch device (cuda: anchors for GPU slots)")
    parser.add_argument("--quick", action="store_true", help="seconds: CartPole 10k, 2 seeds")
    args = parser.parse_args()
    graphs = baselines(args.only)
    config = tomllib.loads((TASK / "task.toml").read_text())
    stages = {s["name"]: s["cases"][0]["secret"] for s in config["stages"]}
    stages["held_out"] = config["held_out"]["cases"][0]["secret"]
    if args.quick:
        secret = {"seeds": [0, 1], "runs": [{"env": "cartpole", "steps": 10_000}]}
        results, anchors = measure(graphs, secret, args.device)
        table("quick", secret, results, anchors, args.device)
        return
    for name in args.stage or (stages if args.anchors else []):
        secret = stages[name]
        if args.anchors and not args.again:  # only the runs without anchors for this code
            secret = {**secret, "runs": [run for run in secret["runs"]
                                         if not fresh(run, secret, args.device)]}
            if not secret["runs"]:
                continue
        print(f"stage {name}", file=sys.stderr)
        results, anchors = measure(graphs, secret, args.device)
        if args.anchors:  # re-read: other stages may have been measured meanwhile
            stored = current(scorer.load_anchors()) | anchors
            scorer.ANCHORS.write_text(json.dumps(stored, indent=1) + "\n")
        table(name, secret, results, anchors if args.anchors else None, args.device)


if __name__ == "__main__":
    main()
