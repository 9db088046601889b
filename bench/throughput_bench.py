"""Throughput at realistic latency: ours and peers at equal slots, N x M = 1x1, 8x2, 32x2.

Models answer in seconds and evaluations burn seconds of CPU; N model calls and M evaluations in
flight (proposals x evaluations), each framework at its own knobs for them.

The model is the mock server (OpenAI wire protocol on 127.0.0.1) playing `Latency`: lognormal
answers around a 5 s median, 2% stragglers of 60 s, 2% 429s asking for a 1 s wait, seeded. Its
k-th answer is program k, whose cost is drawn from a seeded uniform 1-20 s: the program burns
that much CPU when it runs, inside the framework's own evaluation (our sandbox), and reports when
it started and ended (the seed, program -1, costs the mean, 10.5 s). Every framework thus meets
the same latencies and the same programs, in the same order. `--scale S` divides every latency
and cost by S.

Per setting and framework: iterations per hour (evaluated model proposals); utilisation =
achieved / min(N / L, M / E), with L the model time per answer actually drawn (answer delays and
Retry-After waits, over the answers) and E the mean CPU cost of the programs evaluated; the same
against the wall bound, with E the evaluations' measured wall time instead (on a shared machine
a CPU-second takes longer than a second: this one says whether the framework kept its slots
busy); the share of model and sandbox slot-time with nothing in flight; how often the seed ran;
and staleness: for each iteration, the commits (evaluations finished) between its model request
and its own evaluation's end, i.e. what its parent choice could not see. The window runs from
the first evaluation's start (the seed's: the framework is up) to the last one's end.

    .venv/bin/python bench/throughput_bench.py --scale 10   # 2 minutes a run: about 30 in all
    .venv/bin/python bench/throughput_bench.py --quick      # seconds: ours only, scale 200

Peers run from their own venvs (see bench/openevolve_bench.py for OpenEvolve's; ShinkaEvolve:
`python3 -m venv /tmp/shinkavenv && /tmp/shinkavenv/bin/pip install shinka-evolve`); one that
is not installed is left out with a note. `--frameworks bare` runs our loop with a bare
openai-SDK client in place of litellm: what litellm's overhead costs at realistic latency.
Prints Markdown; asserts nothing.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openevolve_bench import has_module, launch_openevolve

from archive import ArchiveReader, archive_path
from archive.records import ModelCall
from discovery.config import load_config
from discovery.doubles.mock_server import Latency, MockServer
from discovery.loop.campaign import Campaign
from discovery.loop.preflight import check
from discovery.models.base import CallFailed, Completion, Messages, ModelSpec

SETTINGS = [(1, 1), (8, 2), (32, 2)]

BLOCK = """import time


def f():
    start, cpu = time.time(), time.process_time()
    while time.process_time() - cpu < {cost!r}:
        pass
    return {{"id": {id}, "value": {value!r}, "cost": {cost!r}, "start": start,
            "end": time.time()}}
"""


def seed(scale: float) -> str:
    """The task's seed: program -1, costing the distribution's mean (10.5 s / scale)."""
    block = BLOCK.format(id=-1, value=0.0, cost=round(10.5 / scale, 4))
    return f"# EVOLVE-BLOCK-START\n{block}# EVOLVE-BLOCK-END\n"


class Programs:
    """The mock's answers: answer k is program k, its value and CPU cost drawn from
    `random.Random(seed)` in answer order, so every framework gets the same programs."""

    def __init__(self, seed: int, scale: float):
        self.rng, self.scale, self.lock = random.Random(seed), scale, threading.Lock()
        self.answered = 0

    def __call__(self, messages: Messages) -> str:
        with self.lock:
            cost = round(self.rng.uniform(1.0, 20.0) / self.scale, 4)
            value = round(self.rng.random(), 12)
            k, self.answered = self.answered, self.answered + 1
        block = BLOCK.format(id=k, value=value, cost=cost)
        # the answer format ShinkaEvolve asks for; ours and OpenEvolve read its code block
        return (f"<NAME>\nprogram_{k}\n</NAME>\n<DESCRIPTION>\nBurns {cost} s "
                f"of CPU.\n</DESCRIPTION>\n<CODE>\n```python\n# EVOLVE-BLOCK-START\n{block}"
                "# EVOLVE-BLOCK-END\n```\n</CODE>")


@dataclass
class Evaluated:
    """One evaluation, as the program itself reported it (id -1: the seed)."""

    id: int
    start: float
    end: float
    cost: float
    """CPU seconds it burned."""


# -- the frameworks -------------------------------------------------------------------------

def write_task(root: Path, scale: float) -> Path:
    """A task whose candidate's outputs are the program's report; the score is its value."""
    root.mkdir(parents=True)
    limit = 20.0 / scale + 30
    (root / "task.toml").write_text(
        'name = "throughput"\nsummary = "Return a large value."\nentry = "f"\n'
        f'[[stages]]\nname = "only"\ncases = [{{ name = "c" }}]\n'
        f"limits = {{ cpu_s = {limit}, wall_s = {4 * limit} }}\n")
    (root / "seed.py").write_text(seed(scale))
    (root / "description.md").write_text("Return a large value.\n")
    (root / "scorer.py").write_text(
        "from evaluators.scoring import Metrics\n\n"
        "def score(stage, case, outputs, oracle):\n"
        "    return Metrics(float(outputs['value']), private={k: outputs[k] for k in "
        "('id', 'start', 'end', 'cost')})\n")
    return root


class BareClient:
    """Our model-client protocol over the bare openai SDK (its own retries honour
    Retry-After): the baseline for litellm's overhead."""

    def __init__(self, spec: ModelSpec):
        import openai

        self.spec = spec
        self.sdk = openai.OpenAI(base_url=spec.api_base, api_key="x", timeout=spec.timeout_s,
                                 max_retries=spec.max_retries)

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        start = time.monotonic()
        try:
            response = self.sdk.chat.completions.create(model="mock-model", messages=messages)
        except Exception as exc:
            call = ModelCall(self.spec.name, purpose, error=str(exc)[:200])
            raise CallFailed(f"bare client: {exc}", [call]) from exc
        text, usage = response.choices[0].message.content, response.usage
        latency = time.monotonic() - start
        call = ModelCall(self.spec.name, purpose, usage.prompt_tokens, usage.completion_tokens,
                         0.0, latency, raw_response=text)
        return Completion(self.spec.name, text, usage.prompt_tokens, usage.completion_tokens,
                          0.0, latency, (call,))


def run_ours(api_base: str, proposals: int, evaluations: int, iterations: int, scale: float,
             work: Path, bare: bool = False, lag: int | None = None) -> list[Evaluated]:
    """Our campaign through the real stack (litellm or the bare client, the warm sandbox pool,
    the SQLite archive), `iterations` model proposals; `lag`: `parallel.lag` (None: its
    default, SERIAL_LAG at 1x1)."""
    os.environ["MOCK_KEY"] = "x"
    timeout = 2 * 60.0 / scale + 10
    config = load_config(str(write_task(work / "task", scale)), None, [
        f"runs_dir={str(work / 'runs')!r}", "name='ours'",
        f'models=[{{name="openai/mock-model", api_base="{api_base}", api_key_env="MOCK_KEY", '
        f"max_concurrency={proposals}, timeout_s={timeout}, backoff_s={0.5 / scale}, "
        'edit_mix={rewrite=1.0}}]', f"budgets.iterations={iterations}",
        f"parallel.proposals={proposals}", f"parallel.evaluations={evaluations}",
        "edits.tune_share=0", "edits.restart_share=0", "edits.scratchpad_every=0",
        "selection.migration_every=0", "selection.stagnation=0", "selection.islands=1",
        "transcript=false", *([] if lag is None else [f"parallel.lag={lag}"])])
    # `discover run`'s preflight call, before the window as there, and as the peers load their
    # clients before evaluating their seed: litellm and the openai SDK load most of their
    # request path on the first call (on a loaded machine the litellm import alone took 29 s;
    # the rest about 1 s), counted as idle sandbox time when it came with the first proposal.
    # It asks a mock of its own, so the measured mock's answers stay the same as the peers'.
    with MockServer() as warm:
        check(config.models[0].model_copy(update={"api_base": warm.base_url}))
    campaign = Campaign.start(config, lambda event: None)
    if bare:  # the proposer shares this dict
        campaign.clients.update({spec.name: BareClient(spec) for spec in campaign.config.models})
    campaign.run()
    campaign.close()
    with ArchiveReader(archive_path(work / "runs" / "ours")) as reader:
        finals = [e for pid in range(1, reader.count() + 1) for e in reader.evaluations(pid)
                  if e.final and e.status == "ok" and e.stage != "migrated"]
    return [Evaluated(int(e.private_metrics["id"]), e.private_metrics["start"],
                      e.private_metrics["end"], e.private_metrics["cost"]) for e in finals]


PEER_EVALUATOR = textwrap.dedent("""
    import importlib.util, json
    STAMPS = {stamps!r}

    def run(program_path):
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        report = module.f()
        with open(STAMPS, "a") as f:
            f.write(json.dumps(report) + "\\n")
        return report
""")


def peer_stamps(path: Path) -> list[Evaluated]:
    """The reports a peer's evaluator appended, one JSON line per evaluation."""
    reports = [json.loads(line) for line in path.read_text().splitlines()] \
        if path.exists() else []
    return [Evaluated(r["id"], r["start"], r["end"], r["cost"]) for r in reports]


OPENEVOLVE_EVALUATE = "\ndef evaluate(program_path):\n" \
    "    return {'combined_score': run(program_path)['value']}\n"


def run_openevolve(python: str, api_base: str, workers: int, iterations: int, scale: float,
                   work: Path) -> list[Evaluated]:
    """OpenEvolve 0.4.0: `workers` processes, each making one proposal and evaluating it."""
    stamps = work / "stamps.jsonl"
    evaluator = PEER_EVALUATOR.format(stamps=str(stamps)) + OPENEVOLVE_EVALUATE
    launch_openevolve(python, api_base, iterations, work, evaluator, seed(scale),
                      workers=workers, timeout=2 * 60.0 / scale + 10, retries=4)
    return peer_stamps(stamps)


SHINKA_RUNNER = textwrap.dedent("""
    import sys
    from shinka.core import EvolutionConfig, ShinkaEvolveRunner
    from shinka.database import DatabaseConfig
    from shinka.launch import LocalJobConfig
    work, api_base, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
    proposals, evaluations = int(sys.argv[4]), int(sys.argv[5])
    evo = EvolutionConfig(
        patch_types=["full"], patch_type_probs=[1.0], num_generations=iterations,
        llm_models=[f"local/mock-model@{api_base}"], llm_dynamic_selection=None,
        llm_kwargs={"temperatures": [0.0], "max_tokens": 1000}, meta_rec_interval=None,
        embedding_model=None, novelty_llm_models=None, init_program_path=work + "/initial.py",
        results_dir=work + "/results", language="python",
        # up to `proposals` proposals beyond the evaluations in flight (default: 0 to 2)
        enable_controlled_oversubscription=True, proposal_target_mode="fixed",
        proposal_buffer_max=proposals)
    job = LocalJobConfig(eval_program_path=work + "/evaluate.py", python_executable=sys.executable)
    db = DatabaseConfig(db_path=work + "/evolution.sqlite", num_islands=1)
    # it caps proposals at cpu_count // 2 (1 on this 2-core machine): equal slots need its cap off
    ShinkaEvolveRunner._validate_concurrency_settings = lambda self, e, p, d, c: (e, p, d)
    ShinkaEvolveRunner(evo, job, db, verbose=False, max_evaluation_jobs=evaluations,
                       max_proposal_jobs=proposals).run()
""")

SHINKA_EVALUATE = textwrap.dedent("""
    import argparse, json, os
    parser = argparse.ArgumentParser()
    parser.add_argument("--program_path")
    parser.add_argument("--results_dir")
    args = parser.parse_args()
    value = run(args.program_path)["value"]
    os.makedirs(args.results_dir, exist_ok=True)
    with open(os.path.join(args.results_dir, "metrics.json"), "w") as f:
        json.dump({"combined_score": value, "public": {}, "private": {}}, f)
    with open(os.path.join(args.results_dir, "correct.json"), "w") as f:
        json.dump({"correct": True, "error": None}, f)
""")


def run_shinka(python: str, api_base: str, proposals: int, evaluations: int, iterations: int,
               scale: float, work: Path) -> list[Evaluated]:
    """ShinkaEvolve's async runner: its own knobs for proposals and evaluations in flight;
    each evaluation is a fresh `python evaluate.py` process, as it runs them."""
    stamps = work / "stamps.jsonl"
    (work / "initial.py").write_text(seed(scale))
    (work / "evaluate.py").write_text(PEER_EVALUATOR.format(stamps=str(stamps))
                                      + SHINKA_EVALUATE)
    (work / "runner.py").write_text(SHINKA_RUNNER)
    child = subprocess.run([python, str(work / "runner.py"), str(work), api_base,
                            str(iterations), str(proposals), str(evaluations)],
                           capture_output=True, text=True, cwd=work,
                           env={**os.environ, "LOCAL_OPENAI_API_KEY": "x"})
    if child.returncode != 0:
        raise SystemExit(f"ShinkaEvolve failed (exit {child.returncode}):\n"
                         f"{child.stderr[-3000:]}")
    return peer_stamps(stamps)


# -- the figures ----------------------------------------------------------------------------

def busy(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Seconds of the intervals inside [lo, hi], summed (overlaps count twice: slot-time)."""
    return sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in intervals)


def step_seconds(step: str) -> float:
    """What a mock step cost its caller: an answer's delay, or a 429's Retry-After wait."""
    kind, _, arg = step.partition(":")
    return float(arg) if kind in ("slow", "429") and arg else 0.0


def figures(requests: list[dict[str, Any]], evaluated: list[Evaluated], proposals: int,
            evaluations: int) -> dict[str, float]:
    """The run's figures from the mock's requests and the programs' own reports; the window
    runs from the first evaluation's start (the seed's: the framework is up) to the last
    evaluation's end."""
    chats = [r for r in requests if "answered" in r]
    answers = {int(r["answer"].split('"id": ')[1].split(",")[0]): r for r in chats
               if r.get("answer")}
    done = [e for e in evaluated if e.id >= 0]  # the iterations: evaluated model proposals
    lo, hi = min(e.start for e in evaluated), max(e.end for e in evaluated)
    model_s = sum(step_seconds(r["step"]) for r in chats) / max(len(answers), 1)
    cost_s = statistics.mean(e.cost for e in done)
    wall_s = statistics.mean(e.end - e.start for e in done)
    bound = min(proposals / model_s, evaluations / cost_s)
    achieved = len(done) / (hi - lo)
    ends = sorted(e.end for e in evaluated)
    lags = [bisect_left(ends, e.end) - bisect_right(ends, answers[e.id]["arrived"])
            for e in done if e.id in answers]
    k = proposals + evaluations
    return {
        "iterations": len(done), "window_s": hi - lo, "per_hour": achieved * 3600,
        "model_s": model_s, "cost_s": cost_s, "wall_s": wall_s, "utilisation": achieved / bound,
        "wall_utilisation": achieved / min(proposals / model_s, evaluations / wall_s),
        "model_idle": 1 - busy([(r["arrived"], r["answered"]) for r in chats], lo, hi)
        / (proposals * (hi - lo)),
        "sandbox_idle": 1 - busy([(e.start, e.end) for e in evaluated], lo, hi)
        / (evaluations * (hi - lo)),
        "seed_runs": len(evaluated) - len(done), "lag_median": statistics.median(lags),
        "stale": sum(lag > k for lag in lags) / len(lags)}


@dataclass
class Framework:
    name: str
    slots: Callable[[int, int], tuple[int, int] | None]
    """The (model calls, evaluations) it runs at a setting, or None when it cannot."""
    run: Callable[[str, int, int, int, Path], list[Evaluated]]
    """(api_base, its model slots, its evaluation slots, iterations, work dir)."""


def frameworks(args: argparse.Namespace) -> dict[str, list[Framework]]:
    """Every framework the bench can run, by its --frameworks name (`discovery`: a row per
    `--lag`)."""
    scale, oe, shinka = args.scale, args.openevolve_python, args.shinka_python

    def ours(name: str, lag: int | None = None, bare: bool = False) -> Framework:
        return Framework(name, lambda n, m: (n, m), lambda url, n, m, i, w:
                         run_ours(url, n, m, i, scale, w, bare=bare, lag=lag))

    return {
        "discovery": [ours("discovery" if lag is None else f"discovery, lag {lag}", lag)
                      for lag in args.lag or [None]],
        # the loop strictly one iteration after another, as 1x1 ran before the lag
        "serial": [ours("discovery, lag 0 (serial)", lag=0)],
        "bare": [ours("discovery, bare openai client", bare=True)],
        # one knob, workers: each makes one proposal and evaluates it, so model calls in
        # flight = evaluations in flight; run at the setting's evaluations, or its proposals
        "openevolve": [Framework("OpenEvolve 0.4.0", lambda n, m: (m, m),
                                 lambda url, n, m, i, w: run_openevolve(oe, url, m, i, scale,
                                                                        w))],
        "openevolve-n": [Framework("OpenEvolve 0.4.0", lambda n, m: (n, n) if n != m else None,
                                   lambda url, n, m, i, w: run_openevolve(oe, url, n, i, scale,
                                                                          w))],
        "shinka": [Framework("ShinkaEvolve 0.0.7", lambda n, m: (n, m), lambda url, n, m, i, w:
                             run_shinka(shinka, url, n, m, i, scale, w))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="divide every latency and cost by this")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="about how long each run takes (its iterations are sized to it)")
    parser.add_argument("--settings", nargs="+", default=[f"{n}x{m}" for n, m in SETTINGS],
                        help="proposals x evaluations")
    parser.add_argument("--frameworks", nargs="+", default=["discovery", "openevolve",
                                                            "shinka"],
                        help="of: discovery, serial (ours with parallel.lag = 0: one iteration "
                        "after another), bare (ours with a bare openai client instead of "
                        "litellm), openevolve, openevolve-n (OpenEvolve with N workers), shinka")
    parser.add_argument("--lag", type=int, nargs="+", default=None,
                        help="parallel.lag for our `discovery` rows, a row per value, e.g. "
                        "`--lag 1 3` (default: the config's, SERIAL_LAG at 1x1, free-running "
                        "otherwise)")
    parser.add_argument("--openevolve-python", default="/tmp/oevenv/bin/python")
    parser.add_argument("--shinka-python", default="/tmp/shinkavenv/bin/python")
    parser.add_argument("--quick", action="store_true",
                        help="seconds: ours only, --scale 200, 1x1 and 8x2, 60 iterations")
    args = parser.parse_args()
    if args.quick:
        args.scale, args.settings, args.frameworks = 200.0, ["1x1", "8x2"], ["discovery"]
    known, chosen = frameworks(args), []
    for name in args.frameworks:
        python = {"openevolve": args.openevolve_python, "openevolve-n": args.openevolve_python,
                  "shinka": args.shinka_python}.get(name)
        module = "shinka" if name == "shinka" else "openevolve"
        if python is None or has_module(python, module):
            chosen.extend(known[name])
        else:
            print(f"{name} is not installed for {python} (see the module docstring): left out",
                  file=sys.stderr)
    print(f"Scale {args.scale:g} (latencies and costs divided by it); load average at the start: "
          f"{os.getloadavg()[0]:.2f}\n")
    print("| setting | framework | slots run | iterations | iterations/hour | utilisation "
          "| of wall bound | model slots idle | sandbox slots idle | seed runs | median lag "
          "| stale (lag > N+M) | vs discovery |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, m in (tuple(int(x) for x in s.split("x")) for s in args.settings):
        ours = None
        for framework in chosen:
            slots = framework.slots(n, m)
            if slots is None:
                continue
            f = measure(framework, n, m, slots, args)
            ours = ours or f["per_hour"]
            print(f"| {n}x{m} | {framework.name} | {slots[0]}x{slots[1]} | {f['iterations']} "
                  f"| {f['per_hour']:,.0f} | {f['utilisation']:.1%} | {f['wall_utilisation']:.1%} "
                  f"| {f['model_idle']:.1%} | {f['sandbox_idle']:.1%} | {f['seed_runs']} "
                  f"| {f['lag_median']:.0f} "
                  f"| {f['stale']:.1%} | {f['per_hour'] / ours:.2f}x |", flush=True)
            print(json.dumps({"setting": f"{n}x{m}", "framework": framework.name,
                              "slots": slots, **f}), file=sys.stderr)
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.2f}")


def measure(framework: Framework, n: int, m: int, slots: tuple[int, int],
            args: argparse.Namespace) -> dict[str, float]:
    """One framework at one setting, against a fresh mock with the setting's seeds, for about
    `args.seconds` (iterations sized from the distributions' means: 10.5 s cost, 6.7 s per
    answer, both divided by the scale)."""
    iterations = 60 if args.quick else max(
        20, round(args.seconds * min(m / 10.5, n / 6.7) * args.scale))
    programs = Programs(seed=n * 1000 + m, scale=args.scale)
    with MockServer(reply=programs, then=Latency(seed=n * 1000 + m, scale=args.scale)) \
            as server, tempfile.TemporaryDirectory() as tmp:
        done = framework.run(server.base_url, *slots, iterations, Path(tmp))
        return figures(server.requests, done, *slots)


if __name__ == "__main__":
    main()
