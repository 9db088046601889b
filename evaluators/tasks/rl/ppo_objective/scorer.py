"""Trusted scorer for the PPO-objective task. The candidate's process only traces its drift into
a plain-data graph (drift_graph.trace); here the graph is checked against the allow-list,
rebuilt, checked on a fixed grid, and trained with: the stacked-agent PPO (ppo.py) trains one
agent per seed on each run of the case's suite, and the score is the IQM over (run, seed) of the
normalised area under the learning curve. The candidate never holds the training loop, never
sees the games, seeds or budgets, and never computes its score."""

import hashlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`, `support`

import minatar_games  # noqa: F401 (registers Space Invaders, Freeway and Asterix)
from drift_graph import DriftError, Graph, Watched, check
from envs import ENVS, make
from ppo import Result, config_for, train

from evaluators.devices import torch_device
from evaluators.scoring import InvalidOutput, Metrics

ANCHORS = Path(__file__).with_name("anchors.json")
SHARED = Path(__file__).parents[1] / "_shared"
BOOTSTRAP = 1000
_REUSED: dict[tuple[str, str], Metrics] = {}
"""Scores by (the graph's canonical form, case and platform): the same drift under other names,
or with code that never reaches its output, is trained once per evaluator process. Never keyed
on the drift's values at some points: a drift equal to another there and different elsewhere
would inherit its score untrained."""
STEPS_PER_S = 150
"""The slowest training rate (agent environment steps per second) a case's default time
budget allows: 10x under the slowest honest rate measured with PPO-clip on the shared, loaded
2-core machine (2026-12-06, 8 agents: Asterix 1,543, Pendulum 3,419, Breakout 10,385, Acrobot
11,283, CartPole 17,744; 4 agents: CartPole 7,247). A backstop: what keeps a drift cheap is
its shape (at most MAX_NODES element-wise operations; 394 atan2 calls made training 1.4x
slower on Breakout, 1.6x on CartPole)."""
MIN_TRAIN_S = 60.0
"""The least budget a case gets (start-up, tiny cases)."""


def code_version(env: str) -> str:
    """A hash of the code a run of `env` runs on (trainer, randomness, environments and the
    game's own module): anchors hold only for the code that measured them."""
    files = [SHARED / name for name in ("envs.py", "ppo.py", "rng.py")]
    game = Path(inspect.getsourcefile(ENVS[env]))
    digest = hashlib.sha256()
    for path in files + ([game] if game.name != "envs.py" else []):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_name(run: dict[str, Any]) -> str:
    return run.get("name", run["env"])


def platform(device: str) -> dict[str, str]:
    """What besides the code a run's bits depend on: the torch version and the capability of
    the device it trains on (on a CPU the instruction set torch's kernels use, e.g. AVX512 or
    AVX2; on CUDA the device's name and compute capability). Runs repeat exactly on one
    platform; on another they drift apart (at 100k steps 0 of 8 seeds reproduced anchors
    measured elsewhere, by up to 0.17 normalised), so anchors hold only where they were
    measured."""
    if torch.device(device).type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return {"torch": torch.__version__, "device": f"cuda {props.name} "
                                                      f"sm_{props.major}{props.minor}"}
    return {"torch": torch.__version__, "device": f"cpu {torch.backends.cpu.get_cpu_capability()}"}


def anchor_key(run: dict[str, Any], seeds: list[int], where: dict[str, str]) -> str:
    """What a run's anchors depend on: game, budget, hyper-parameter overrides, seeds, and the
    platform (`platform()`) they were measured on; anchors.json holds one entry per platform."""
    return json.dumps({"env": run["env"], "steps": run["steps"],
                       "overrides": run.get("overrides", {}), "seeds": seeds, **where},
                      sort_keys=True)


def load_anchors() -> dict[str, Any]:
    """{anchor_key: {"version": code_version, "ppo": [area per seed], "random": [...]}}."""
    if not ANCHORS.is_file():
        return {}
    return json.loads(ANCHORS.read_text(encoding="utf-8"))


def measure_command(device: str) -> str:
    """The command that measures anchors for `device` on this machine."""
    cuda = torch.device(device).type == "cuda"
    return "python bench/rl_reference_bench.py --anchors" + (f" --device {device}" if cuda
                                                            else "")


def stored_anchor(run: dict[str, Any], seeds: list[int],
                  device: str = "cpu") -> dict[str, list[float]]:
    """The run's anchors from anchors.json: the areas of PPO-clip and of the untrained policy
    per seed, measured on this trainer's code and this platform (torch version, `device`'s
    capability); else a ValueError of one line naming what was found and the command that
    measures them here."""
    where = platform(device)
    anchors = load_anchors()
    anchor = anchors.get(anchor_key(run, seeds, where))
    if anchor is not None and anchor["version"] == code_version(run["env"]):
        return anchor
    wanted = json.loads(anchor_key(run, seeds, {}))
    elsewhere = sorted({f"torch {key.get('torch', '?')} on {key.get('device', '?')}"
                        for key, value in ((json.loads(k), v) for k, v in anchors.items())
                        if value["version"] == code_version(run["env"])
                        and all(key.get(name) == want for name, want in wanted.items())})
    found = f" (stored: measured with {', '.join(elsewhere)}, whose runs do not repeat here " \
            "bit for bit)" if elsewhere else ""
    raise ValueError(f"no anchors for run {run_name(run)} (seeds {seeds}) measured on this "
                     f"trainer's code with torch {where['torch']} on {where['device']}{found}: "
                     f"run `{measure_command(device)}` on this machine to measure them")


def prepare(stages) -> None:
    """Every run names a known game with a budget that ends an episode, and has anchors
    measured on this code and platform (the CPU's; a GPU slot's anchors are checked at its
    first case, where its device is known): else a clear error before a campaign starts."""
    for stage in stages:
        for case in stage.cases:
            for run in case.secret["runs"]:
                env = make(run["env"])
                config = config_for(run["env"], **run.get("overrides", {}))
                if run["steps"] // config.num_envs < env.max_steps:
                    raise ValueError(f"run {run_name(run)} of stage {stage.name}: "
                                     f"{run['steps']} steps over {config.num_envs} envs may end "
                                     f"no episode of {env.name} (up to {env.max_steps} steps)")
                stored_anchor(run, case.secret["seeds"], torch_device())


def filled(curves: np.ndarray) -> np.ndarray:
    """Learning curves [agents, updates] with their gaps filled: updates before the first
    finished episode take its return, later gaps the last one (long episodes, as Freeway's
    2500 steps, end only every few updates)."""
    rows = []
    for curve in curves:
        known = np.flatnonzero(~np.isnan(curve))
        rows.append(curve[known[np.clip(np.searchsorted(known, np.arange(len(curve)), "right")
                                        - 1, 0, None)]])
    return np.array(rows)


def area(curves: np.ndarray) -> np.ndarray:
    """Area under each learning curve, as its mean return per update."""
    return filled(curves).mean(1)


CHECKPOINTS = 8
"""Points of the learning curve a run reports (`<run>_return_<steps>`), for `discover report`'s
curves and for the prompt: enough to show early speed and late stability, few enough to read."""


def summary(result: Result) -> dict[str, Any]:
    """Per seed: the area under the curve and the final return (mean of the last tenth); and
    the learning curve, mean over seeds, at CHECKPOINTS steps (each point the mean return over
    the updates since the previous one); the NaN guards' counts."""
    curves, steps_per_update = result.curves, result.steps_per_update
    full = filled(curves)
    chunks = np.array_split(np.arange(full.shape[1]), min(CHECKPOINTS, full.shape[1]))
    return {"area": full.mean(1).tolist(),
            "final": full[:, -max(1, full.shape[1] // 10):].mean(1).tolist(),
            "curve": {int((chunk[-1] + 1) * steps_per_update): float(full[:, chunk].mean())
                      for chunk in chunks},
            "skipped": int(result.skipped.sum()), "masked": int(result.masked.sum())}


def train_budget(secret: dict[str, Any]) -> float:
    """Seconds the trusted trainer may spend on a case: the case's `train_s`, else its agent
    environment steps at STEPS_PER_S (at least MIN_TRAIN_S): 10x or more what honest drifts
    take here, so only a drift that makes training itself slow runs out of it."""
    if "train_s" in secret:
        return float(secret["train_s"])
    steps = sum(run["steps"] for run in secret["runs"]) * len(secret["seeds"])
    return max(MIN_TRAIN_S, steps / STEPS_PER_S)


def train_suite(graph: Graph, secret: dict[str, Any], device: str) -> dict[str, dict]:
    """Each run of the suite with one stacked agent per seed on `device`, the drift watched
    (Watched: the case's time budget, finite values at finite inputs); a DriftError when it
    breaks them, or raises anything while training."""
    results = {}
    drift = Watched(graph, train_budget(secret))
    for run in secret["runs"]:
        config = config_for(run["env"], **run.get("overrides", {}))
        result = train(run["env"], drift, secret["seeds"], run["steps"], config, device)
        results[run_name(run)] = summary(result)
    drift.verify()
    return results


def iqm(values: np.ndarray) -> float:
    """Interquartile mean (Agarwal et al. 2021): the mean of the middle 50%."""
    values = np.sort(values)
    cut = len(values) // 4
    return float(values[cut:len(values) - cut].mean())


def aggregate(results: dict[str, dict], secret: dict[str, Any], device: str,
              anchors: dict[str, Any] | None = None) -> Metrics:
    """Normalise each (run, seed) by the run's anchors for `device` (the stored ones unless
    given), IQM with a bootstrap interval. Invariant: every normalised area is finite
    (InvalidOutput else; the trainer's NaN guards keep weights finite, so this only fires on a
    trainer bug a drift found), so the score is."""
    public: dict[str, float] = {}
    normalised = []
    skipped = masked = 0
    where = platform(device)
    for run in secret["runs"]:
        name = run_name(run)
        anchor = stored_anchor(run, secret["seeds"], device) if anchors is None \
            else anchors[anchor_key(run, secret["seeds"], where)]
        low, high = np.mean(anchor["random"]), np.mean(anchor["ppo"])
        scores = (np.array(results[name]["area"]) - low) / (high - low)
        normalised.append(scores)
        public[f"{name}_score"] = round(float(scores.mean()), 4)
        public[f"{name}_return"] = round(float(np.mean(results[name]["area"])), 3)
        public[f"{name}_final_return"] = round(float(np.mean(results[name]["final"])), 3)
        public.update({f"{name}_return_{steps}": round(value, 3)
                       for steps, value in results[name]["curve"].items()})
        skipped += results[name]["skipped"]
        masked += results[name]["masked"]
    flat = np.concatenate(normalised)
    if not np.isfinite(flat).all():
        raise InvalidOutput("training with this drift gave non-finite returns")
    rng = np.random.default_rng(0)
    boot = [iqm(flat[rng.integers(0, len(flat), len(flat))]) for _ in range(BOOTSTRAP)]
    score = iqm(flat)
    public.update({"score_iqm": round(score, 4),
                   "ci_low": round(float(np.percentile(boot, 2.5)), 4),
                   "ci_high": round(float(np.percentile(boot, 97.5)), 4),
                   "skipped_updates": skipped, "masked_drift_terms": masked})
    return Metrics(score, public, {"normalised": [round(float(x), 4) for x in flat]})


def score(stage, case, outputs, oracle):
    """The candidate's graph rebuilt (Graph.from_json: the allow-list), checked on the grid
    (check: finite, bounded values and gradients) and trained with (train_suite: within the
    case's budget, finite at finite inputs); anything it raises or breaks on the way is
    InvalidOutput with the reason, and the score (aggregate) is finite by construction."""
    if not isinstance(outputs, dict):
        raise InvalidOutput("objective() must return what trace(drift) returns")
    if "error" in outputs:
        raise InvalidOutput(str(outputs["error"])[:500])
    try:
        graph = Graph.from_json(outputs)
        features = check(graph)
        device = torch_device()
        key = (graph.key, json.dumps([case.secret, platform(device)], sort_keys=True))
        if key not in _REUSED:
            metrics = aggregate(train_suite(graph, case.secret, device), case.secret, device)
            _REUSED[key] = Metrics(metrics.score, {**metrics.public, **features},
                                   metrics.private)
            return _REUSED[key]
    except DriftError as exc:
        raise InvalidOutput(str(exc)) from exc
    reused = _REUSED[key]
    return Metrics(reused.score, reused.public, {**reused.private, "reused_score": 1})
