"""A generated campaign, for demos, tests and benchmarks of the archive and its CLI.

It drives the real writer API the way the campaign loop does: weighted parent sampling per
island, inspirations, crossover, staged evaluations, failures with reasons, model calls with
tokens and cost, migration events. The programs are real, importable Python (a restarted
local search whose constants mutate from parent to child). The scores are NOT measured: they
come from a closed-form stand-in of the constants, so that 100k programs generate in seconds.
"""

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

from archive.records import EvaluationResult, ModelCall, NewProgram
from archive.store import ArchiveReader, ArchiveWriter, archive_path

TASK = "synthetic_minimise"
EVALUATOR_VERSION = "synthetic-v1"

_TEMPLATE = '''"""Minimise a black-box function with restarted, step-adapting local search."""
import random

# EVOLVE-BLOCK-START
STEP = {step!r}
SHRINK = {shrink!r}
RESTARTS = {restarts!r}


def minimise(f, x0, budget=2000, seed=0):
    """Return (x, f(x)) for the best point found within `budget` calls of f."""
    rng = random.Random(seed)
    best_x, best_f = list(x0), f(x0)
    per_restart = budget // RESTARTS
    for _ in range(RESTARTS):
        x, fx, step = list(best_x), best_f, STEP
        for _ in range(per_restart):
            y = [xi + rng.gauss(0.0, step) for xi in x]
            fy = f(y)
            if fy < fx:
                x, fx = y, fy
            else:
                step *= SHRINK
        if fx < best_f:
            best_x, best_f = x, fx
    return best_x, best_f
# EVOLVE-BLOCK-END


def run():
    """Minimise the Rosenbrock function from (-1.5, 2.0)."""
    return minimise(lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2, [-1.5, 2.0])
'''

SYNTHETIC = "synthetic"
"""The config key that marks a generated archive, so that `discover demo --force` replaces an
earlier demo and never a real campaign."""


def is_synthetic(reader: ArchiveReader) -> bool:
    return reader.campaign().config.get(SYNTHETIC) is True


_OPTIMUM = {"step": 0.35, "shrink": 0.985, "restarts": 6}

_MODELS = (  # (name, $ per 1M input tokens, $ per 1M output tokens)
    ("gpt-4.1-mini", 0.4, 1.6),
    ("anthropic/claude-sonnet-4-5", 3.0, 15.0),
    ("smollm2-135m-instruct", 0.0, 0.0),
)

_FAILURES = (  # (status, stage, reason, error tail)
    ("crashed", "smoke", "ZeroDivisionError: integer division or modulo by zero",
     'File "candidate.py", line 13, in minimise\n    per_restart = budget // RESTARTS\n'
     "ZeroDivisionError: integer division or modulo by zero"),
    ("invalid", "smoke", "returned a non-finite objective value (nan)", None),
    ("timeout", "full", "wall time limit of 10 s exceeded", None),
    ("rejected", "novelty", "too similar to an archived program (similarity 0.98)", None),
)


@dataclass(frozen=True)
class Genome:
    step: float
    shrink: float
    restarts: int

    def code(self) -> str:
        return _TEMPLATE.format(step=self.step, shrink=self.shrink, restarts=self.restarts)

    def score(self) -> float:
        """The stand-in for an evaluator: 1 at the optimum, falling off with distance."""
        d = (math.log(self.step / _OPTIMUM["step"]) ** 2
             + (10 * (self.shrink - _OPTIMUM["shrink"])) ** 2
             + ((self.restarts - _OPTIMUM["restarts"]) / 4) ** 2)
        return 1 / (1 + d)

    def mutate(self, rng: random.Random) -> "Genome":
        return Genome(
            step=round(self.step * math.exp(rng.gauss(0, 0.3)), 4),
            shrink=round(min(0.9999, max(0.5, self.shrink + rng.gauss(0, 0.01))), 4),
            restarts=max(1, self.restarts + rng.choice((-1, 0, 0, 1))),
        )

    def cross(self, other: "Genome", rng: random.Random) -> "Genome":
        return Genome(*(rng.choice(pair) for pair in zip(
            (self.step, self.shrink, self.restarts),
            (other.step, other.shrink, other.restarts), strict=True)))


_SEED = Genome(step=1.0, shrink=0.9, restarts=1)


def generate(
    run_dir: str | Path, n_programs: int, *, seed: int = 0, islands: int = 4,
    start: float | None = None, name: str | None = None,
) -> Path:
    """Write a campaign of `n_programs` into `run_dir`/archive.sqlite; returns the file path."""
    rng = random.Random(seed)
    path = archive_path(run_dir)
    clock_now = [time.time() - 6 * n_programs if start is None else start]

    def clock() -> float:  # about 6 writes a program, so about 6 s a program: ends near now
        clock_now[0] += rng.uniform(0.5, 1.5)
        return clock_now[0]

    config = {"task": TASK, "programs": n_programs, "islands": islands, "seed": seed,
              "selection": {"strategy": "weighted", "lambda": 10.0}, SYNTHETIC: True}
    writer = ArchiveWriter.create(
        path, name=name or Path(run_dir).name, task=TASK, config=config, seed=seed,
        evaluator_version=EVALUATOR_VERSION, clock=clock,
    )
    genomes: dict[int, Genome] = {}
    with writer:
        writer.log_event("campaign_started", {"seed": seed})
        for i in range(n_programs):
            island = i % islands
            if i < islands:
                _add(writer, rng, genomes, _SEED, NewProgram(
                    _SEED.code(), island=island, edit_kind="seed"), model=None)
                continue
            if rng.random() < 0.01:
                _migrate(writer, rng, genomes, island, islands)
            parent = writer.sample_parent(rng, island, pool=64)
            if parent is None:  # every program of this island failed so far: restart the seed
                _add(writer, rng, genomes, _SEED, NewProgram(
                    _SEED.code(), island=island, edit_kind="restart"), model=None)
                continue
            top = writer.top_k(2, island)
            inspirations = tuple(p.id for p in top if p.id != parent.id)[:1]
            child, parents, kind = genomes[parent.id].mutate(rng), (parent.id,), "diff"
            if inspirations and rng.random() < 0.15:
                child = genomes[parent.id].cross(genomes[inspirations[0]], rng)
                parents, inspirations, kind = (parent.id, inspirations[0]), (), "crossover"
            elif rng.random() < 0.3:
                kind = "rewrite"
            _add(writer, rng, genomes, child, NewProgram(
                child.code(), parents=parents, inspirations=inspirations, island=island,
                edit_kind=kind, prompt_template=f"{kind}.md",
            ), model=rng.choice(_MODELS))
        writer.log_event("campaign_stopped", {"reason": "budget: programs"})
    return path


def _add(writer: ArchiveWriter, rng: random.Random, genomes: dict[int, Genome], genome: Genome,
         new: NewProgram, model: tuple[str, float, float] | None) -> None:
    """One iteration's writes, committed together as the campaign loop commits them."""
    if model is not None:
        if rng.random() < 0.02:  # a provider error: a call with no program
            writer.record_model_call(ModelCall(
                model[0], "propose", tokens_in=rng.randint(900, 4000), latency_s=30.0,
                error="RateLimitError: 429 Too Many Requests"))
        new = NewProgram(**{**new.__dict__, "model": model[0]})
    failure = rng.random() < 0.2 and new.edit_kind not in ("seed", "restart")
    if failure:
        status, stage, reason, tail = rng.choice(_FAILURES)
        if status == "crashed":
            genome = Genome(genome.step, genome.shrink, 0)
            new = NewProgram(**{**new.__dict__, "code": genome.code()})
    with writer.batch():
        program_id = writer.add_program(new)
        genomes[program_id] = genome
        if model is not None:
            tokens_in, tokens_out = rng.randint(900, 4000), rng.randint(150, 900)
            writer.record_model_call(ModelCall(
                model[0], "propose", tokens_in=tokens_in, tokens_out=tokens_out,
                cost=(tokens_in * model[1] + tokens_out * model[2]) / 1e6,
                latency_s=round(rng.uniform(0.5, 12.0), 3),
                raw_response=f"```python\n{new.code}```", program_id=program_id,
            ))
        if failure:
            writer.record_evaluation(program_id, EvaluationResult(
                stage, status, reason=reason, error_tail=tail,
                duration_s=10.0 if status == "timeout" else round(rng.uniform(0.05, 0.3), 3),
            ))
            return
        writer.record_evaluation(program_id, EvaluationResult(
            "smoke", "ok", duration_s=round(rng.uniform(0.05, 0.3), 3)), final=False)
        score = genome.score() * (1 + rng.gauss(0, 0.002))
        writer.record_evaluation(program_id, EvaluationResult(
            "full", "ok", score=score,
            public_metrics={"score": score, "restarts": genome.restarts},
            private_metrics={"held_out_score": genome.score() * (1 + rng.gauss(0, 0.01))},
            duration_s=round(rng.uniform(0.5, 3.0), 3),
            resources={"cpu_s": round(rng.uniform(0.4, 2.9), 3), "max_rss_mb": rng.randint(30, 90)},
        ))


def _migrate(writer: ArchiveWriter, rng: random.Random, genomes: dict[int, Genome], island: int,
             islands: int) -> None:
    """Copy another island's best program onto this island, as island migration does."""
    source = rng.randrange(islands)
    best = writer.best(source)
    if source == island or best is None:
        return
    _add(writer, rng, genomes, genomes[best.id], NewProgram(
        best.code, parents=(best.id,), island=island, edit_kind="migration"), model=None)
    writer.log_event("migration", {"from": source, "to": island}, best.id)
