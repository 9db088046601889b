"""Runs inside the sandbox, as the "candidate" module of a peer task: it writes nothing of
ours into the peer's files, imports the peer's evaluator from the scratch folder and calls it
on the candidate program, which the harness wrote next to it as `PROGRAM`. The evaluator then
imports and runs the candidate itself, in this same process: what comes back is the peer
evaluator's word, as plain data, and the trusted side (evaluators/peers/scorer.py) only checks
its shape. That is why a peer task is a weaker trust level than a native one.

Neither `openevolve` nor `shinka` need be installed: where they are not, the two names their
evaluators import (`openevolve.evaluation_result.EvaluationResult`, `shinka.core.
run_shinka_eval`) are stood in by small equivalents of their documented contracts.

This file is sent as text (nothing here may import the project's packages)."""

import dataclasses
import importlib.util
import json
import math
import os
import sys
import time
import types

PROGRAM = "_discovery_program.py"
"""The candidate program's file name in the sandbox's scratch folder."""


@dataclasses.dataclass
class EvaluationResult:
    """OpenEvolve's result: metrics (numbers, and strings such as "error") and artifacts
    (text feedback for the next prompt)."""

    metrics: dict
    artifacts: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, metrics):
        return cls(metrics=metrics)

    def to_dict(self):
        return self.metrics

    def has_artifacts(self):
        return bool(self.artifacts)


def _load_program(path, name="program"):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_shinka_eval(program_path, results_dir, experiment_fn_name, num_runs,
                    get_experiment_kwargs=None, aggregate_metrics_fn=None, validate_fn=None,
                    plotting_fn=None, default_metrics_on_error=None, run_workers=1,
                    max_workers_cap=None, verbose=None, **ignored):
    """ShinkaEvolve's run_shinka_eval, sequentially: run the experiment `num_runs` times,
    validate each result, aggregate, write metrics.json and correct.json; an exception makes
    the default error metrics and correct=False. Early stopping and plots are not done."""
    correct, error, results, times = True, None, [], []
    try:
        function = getattr(_load_program(program_path), experiment_fn_name)
        for index in range(num_runs):
            kwargs = get_experiment_kwargs(index) if get_experiment_kwargs else {
                "seed": index + 1}
            begin = time.perf_counter()
            result = function(**kwargs)
            times.append(time.perf_counter() - begin)
            results.append(result)
            if validate_fn:
                valid, message = validate_fn(result)
                if not valid:
                    correct = False
                    error = error or f"Validation failed: {message}"
        metrics = (aggregate_metrics_fn(results) if aggregate_metrics_fn
                   else {"num_successful_runs": len(results)})
        metrics["execution_time_mean"] = sum(times) / len(times) if times else 0.0
        score = metrics.get("combined_score", 0.0)
        if isinstance(score, float) and not math.isfinite(score):
            correct, error = False, error or f"combined_score is {score}"
    except Exception as exc:
        metrics = dict(default_metrics_on_error or {"combined_score": 0.0})
        correct, error = False, str(exc)
    metrics.pop("extra_data", None)
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "correct.json"), "w") as file:
        json.dump({"correct": correct, "error": error}, file)
    with open(os.path.join(results_dir, "metrics.json"), "w") as file:
        json.dump(metrics, file, default=_plain)
    return metrics, correct, error


def _plain(value):
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _stand_in(name, **attributes):
    """A module `name` (and its parents) holding `attributes`, unless the real one imports."""
    try:
        importlib.import_module(name)
        return
    except ImportError:
        pass
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        sys.modules.setdefault(".".join(parts[:depth]),
                               types.ModuleType(".".join(parts[:depth])))
    for key, value in attributes.items():
        setattr(sys.modules[name], key, value)


def run_peer(evaluator, function, kind):
    """Call `function` of the peer's evaluator module (file `evaluator`) on the candidate, in
    this process (the harness's entry point of a peer task)."""
    return call_evaluator(os.path.abspath(evaluator), function, kind, os.path.abspath(PROGRAM),
                          os.path.abspath("results"))


def call_evaluator(evaluator, function, kind, program, results):
    """`function` of the evaluator file `evaluator` on the program file `program`, its answer
    as plain data: {"metrics", "artifacts", "correct", "error"}. OpenEvolve's
    `evaluate(program_path)` (or a cascade stage) returns metrics, or an EvaluationResult with
    artifacts; ShinkaEvolve's `main(program_path, results_dir)` writes metrics.json and
    correct.json into `results`."""
    _stand_in("openevolve.evaluation_result", EvaluationResult=EvaluationResult)
    _stand_in("shinka.core", run_shinka_eval=run_shinka_eval)
    module = _load_program(evaluator, "evaluator")
    if kind == "shinka":
        getattr(module, function)(program, results)
        found = {}
        for name in ("metrics", "correct"):
            path = os.path.join(results, f"{name}.json")
            if os.path.isfile(path):
                with open(path) as file:
                    found[name] = json.load(file)
        correct = found.get("correct", {})
        return {"metrics": found.get("metrics"), "correct": correct.get("correct"),
                "error": correct.get("error"), "artifacts": {}}
    result = getattr(module, function)(program)
    metrics = getattr(result, "metrics", result)
    artifacts = getattr(result, "artifacts", {}) or {}
    return {"metrics": metrics, "artifacts": {key: value if isinstance(value, str)
                                              else repr(value)[:2000]
                                              for key, value in artifacts.items()},
            "correct": None, "error": None}
