"""The deterministic one-step-lag pipeline (issue 28): the next proposal overlaps the current
evaluation, yet which commits each plan and proposal sees is fixed, so a replay with the delays
placed differently, on other slots, or resumed after a kill mid-pipeline, makes the same plans
and the same archive. The overlap and the order are checked by the order of events, never by
how long anything took."""

import hashlib
import json
import random
import threading
import time

import pytest
from helpers import SCRIPT

import discovery.loop.campaign as campaign_module
from archive import ArchiveReader, archive_path
from discovery.config import SERIAL_LAG, Parallel, load_config
from discovery.loop.campaign import Campaign
from discovery.loop.pipeline import Stages, run_pipeline
from discovery.loop.plan import Op, Outcome, Plan
from discovery.models.base import Completion, ModelCall
from discovery.search.edits import block_text
from evaluators.task import load_task

# -- the scheduler alone: a toy archive, delays from a seeded stream --------------------------

class Toy:
    """A pipeline over a toy archive (a list of commits). Plans and proposals read it; the
    proposal reads it twice, at its start and its end, so a commit landing while a proposal
    runs is seen. Evaluations sleep a moment drawn from `timing`, so with two evaluation slots
    they finish in an order the stream decides."""

    def __init__(self, timing: int, budget: int, lag: int | None, evaluations: int = 1):
        self.rng, self.lock = random.Random(timing), threading.Lock()
        self.budget, self.lag, self.evaluations = budget, lag, evaluations
        self.archive: list[tuple[int, int]] = []
        self.plans: list[tuple[int, int]] = []
        """(n, commits the plan saw), in the order planned."""
        self.seen: dict[int, tuple[int, int]] = {}
        """n -> (commits at the proposal's start, at its end)."""
        self.recorded: dict[int, int] = {}
        """n -> the commit (by count) whose transaction recorded its proposal."""
        self.events: list[tuple[str, int]] = []
        self._started: dict[int, threading.Event] = {}

    def started(self, n: int) -> threading.Event:
        """Set once proposal n has begun."""
        with self.lock:
            return self._started.setdefault(n, threading.Event())

    def log(self, what: str, n: int) -> None:
        with self.lock:
            self.events.append((what, n))

    def plan(self) -> Plan:
        n = len(self.plans)
        self.plans.append((n, len(self.archive)))
        return Plan(n, 0, Op.LLM)

    def propose(self, plan: Plan) -> Outcome:
        self.log("propose", plan.n)
        self.started(plan.n).set()
        start = len(self.archive)
        time.sleep(self.rng.uniform(0, 0.004))
        # the child depends on everything the proposal read: a sum over the archive
        child = (plan.n, sum(value for _, value in self.archive) * 31 + plan.n)
        self.seen[plan.n] = (start, len(self.archive))
        return Outcome(plan, code=json.dumps(child))

    def evaluate(self, outcome: Outcome) -> Outcome:
        time.sleep(self.rng.uniform(0, 0.01))
        self.log("evaluated", outcome.plan.n)
        return outcome

    def commit(self, outcome: Outcome, ahead: list[Outcome]) -> None:
        for other in ahead:
            self.recorded[other.plan.n] = len(self.archive)
        n, value = json.loads(outcome.code)
        self.archive.append((n, value))
        self.log("commit", n)

    def room(self, in_flight: int) -> bool:
        # as the campaign's: the seed runs alone, then the budget bounds what is planned
        return len(self.archive) + in_flight < self.budget and (in_flight == 0
                                                                  or bool(self.archive))

    def run(self, evaluate=None) -> str:
        return run_pipeline(Stages(self.plan, self.propose, evaluate or self.evaluate,
                                   self.commit), 1, self.evaluations,
                            stop=lambda: None, room=self.room, lag=self.lag)


@pytest.mark.parametrize("lag", [0, 1, 2])
def test_lagged_plans_see_exactly_the_commits_their_lag_allows_whatever_the_timing(lag):
    """Each plan and its proposal see the first max(1, i - lag) commits, no more and no fewer,
    and the archive is the same commit for commit, over timings where evaluations (two slots)
    finish out of order."""
    runs = []
    for timing in range(4):
        toy = Toy(timing, budget=12, lag=lag, evaluations=2)
        toy.run()
        assert [n for n, _ in toy.archive] == list(range(12))  # committed in plan order
        for n, saw in toy.plans:
            expected = 0 if n == 0 else max(1, n - lag)
            assert saw == expected and toy.seen[n] == (expected, expected), (timing, n)
        runs.append(toy.archive)
    assert all(run == runs[0] for run in runs)


def test_two_evaluation_slots_finish_out_of_order_and_still_commit_in_order():
    """The timing stream makes evaluations overlap and finish out of order; commits keep the
    plans' order (the same archive as above, so this is what that test exercised)."""
    orders = set()
    for timing in range(6):
        toy = Toy(timing, budget=12, lag=2, evaluations=2)
        toy.run()
        finished = [n for what, n in toy.events if what == "evaluated"]
        orders.add(finished == sorted(finished))
        assert [n for what, n in toy.events if what == "commit"] == list(range(12))
    assert False in orders  # some timing finished them out of order


def test_the_next_proposal_runs_while_the_current_evaluation_does():
    """With lag 1 at one slot each, proposal n + 1 starts before evaluation n ends: each
    evaluation waits (bounded) until its successor's proposal has begun and says whether it
    did. With lag 0 the proposal waits for the commit before it."""
    toy = Toy(0, budget=6, lag=1)

    def evaluate(outcome: Outcome) -> Outcome:
        n, successor = outcome.plan.n, toy.started(outcome.plan.n + 1)
        # the seed and the last iteration have no successor to wait for: only look
        overlapped = successor.is_set() if n in (0, 5) else successor.wait(timeout=60)
        toy.log("overlapped" if overlapped else "alone", n)
        return outcome

    toy.run(evaluate)
    evaluated = {n: what for what, n in toy.events if what in ("overlapped", "alone")}
    # the seed is scored before anything is planned from it; then each proposal overlaps
    assert evaluated == {0: "alone", **{n: "overlapped" for n in range(1, 5)}, 5: "alone"}

    serial = Toy(0, budget=6, lag=0)
    serial.run()
    for n in range(1, 6):
        assert serial.events.index(("commit", n - 1)) < serial.events.index(("propose", n))


def test_at_the_default_lag_proposals_run_that_many_iterations_ahead_of_the_sandbox():
    """At one slot each the default lag lets proposal n + SERIAL_LAG begin before evaluation n
    ends, so an answer slower than the evaluations beside it is hidden behind the proposals
    made before it; proposal n + SERIAL_LAG + 1 never does (its plan needs commit n). Each
    evaluation waits (bounded) for the first and looks at the second."""
    lag, budget = Parallel().effective_lag(), SERIAL_LAG + 6
    toy = Toy(0, budget=budget, lag=lag)

    def evaluate(outcome: Outcome) -> Outcome:
        n = outcome.plan.n
        ahead, beyond = toy.started(n + lag), toy.started(n + lag + 1)
        # the seed is scored before anything is planned; the last ones have nothing that far on
        ran = ahead.is_set() if n == 0 or n + lag >= budget else ahead.wait(timeout=60)
        toy.log("ahead" if ran and not beyond.is_set() else "not ahead", n)
        return outcome

    toy.run(evaluate)
    evaluated = {n: what for what, n in toy.events if what.endswith("ahead")}
    assert evaluated == {n: "ahead" if 0 < n < budget - lag else "not ahead"
                         for n in range(budget)}


def test_each_commit_records_the_proposals_finished_since_the_one_before():
    """Proposal n (n >= 2) is recorded by commit n - 1 (in its transaction), before its own
    commit: a kill after that commit loses no proposal that was asked."""
    toy = Toy(1, budget=8, lag=1)
    toy.run()
    assert toy.recorded == {n: n - 1 for n in range(2, 8)}


def test_the_lag_is_on_by_default_at_one_proposal_and_one_evaluation():
    assert Parallel().effective_lag() == SERIAL_LAG >= 1
    assert Parallel(proposals=8, evaluations=2).effective_lag() is None
    assert Parallel(proposals=8, evaluations=2, lag=3).effective_lag() == 3
    assert Parallel(lag=0).effective_lag() == 0
    assert Parallel().effective_lag(serial=True) == 0  # ADAS: each generation sees the last
    assert Parallel(lag=1).effective_lag(serial=True) == 1


# -- whole campaigns: the real loop, sandbox and archive ------------------------------------

SCRIPTED = [json.loads(line)["text"] for line in SCRIPT.read_text().splitlines()]
SEED_BLOCK = block_text(load_task("circle_packing").seed_code)


def answer(key: bytes, diff: bool) -> str:
    """One of the scripted answers (no code, a good grid, an invalid packing), or the seed's
    row shift and aspect set from the key (valid packings of many scores): as a whole block,
    or for a `diff` prompt as SEARCH/REPLACE of the seed's shift (which fails once a parent
    has another)."""
    pick = int.from_bytes(key[:4], "big")
    if pick % 8 < len(SCRIPTED):
        return SCRIPTED[pick % 8]
    shift, aspect = f"shift = {0.2 + key[4] / 400:.4f}", f"aspect = {0.8 + key[5] / 600:.4f}"
    if diff:
        return f"<<<<<<< SEARCH\n    shift = 0.5\n=======\n    {shift}\n>>>>>>> REPLACE"
    block = SEED_BLOCK.replace("shift = 0.5", shift).replace("aspect = 1.0", aspect)
    return f"```python\n{block}\n```"


class Keyed:
    """A model double whose answer is a function of the request alone (`answer` of its hash),
    whatever order requests come in, and which answers after a moment drawn from a timing
    stream of its own."""

    def __init__(self, spec, timing: random.Random):
        self.spec, self.timing = spec, timing

    def complete(self, messages, *, purpose="propose", seed=None, temperature=None,
                 reference=None, json_mode=False) -> Completion:
        time.sleep(self.timing.uniform(0, 0.03))
        key = hashlib.sha256(json.dumps([messages, seed, temperature]).encode()).digest()
        text = answer(key, diff="SEARCH" in messages[0]["content"])
        tokens_in, tokens_out = sum(len(m["content"].split()) for m in messages), len(text)
        call = ModelCall(self.spec.name, purpose, tokens_in, tokens_out, raw_response=text)
        return Completion(self.spec.name, text, tokens_in, tokens_out, 0.0, 0.0, (call,))


class Killed(BaseException):
    """The process dying mid-pipeline: nothing catches it, nothing more is written."""


def campaign(tmp_path, monkeypatch, name: str, timing: int, *settings: str,
             kill_at: int | None = None) -> None:
    """A circle-packing campaign of 8 iterations with the keyed model, each model answer and
    each evaluation delayed by a moment from the stream `timing`; `kill_at`: die instead of
    making that many-th commit, then resume in a fresh Campaign."""
    rng = random.Random(timing)
    monkeypatch.setattr(campaign_module, "make_client", lambda spec: Keyed(spec, rng))
    evaluate, commit = Campaign._evaluate_stage, Campaign._commit

    def delayed(self, outcome, executor):
        time.sleep(rng.uniform(0, 0.05))
        return evaluate(self, outcome, executor)

    def commit_or_die(self, outcome, ahead):
        if len(self.done) == kill_at:
            raise Killed
        commit(self, outcome, ahead)

    monkeypatch.setattr(Campaign, "_evaluate_stage", delayed)
    monkeypatch.setattr(Campaign, "_commit", commit_or_die)
    config = load_config("circle_packing", None, [
        f"runs_dir={str(tmp_path)!r}", f"name={name!r}", "budgets.iterations=8",
        "seed=1",  # its plans meet ok, invalid and no-program outcomes at the default lag
        f'models=[{{name="scripted:{SCRIPT}", edit_mix={{rewrite=1.0, diff=0.2}}}}]',
        "edits.tune_share=0", "edits.restart_share=0", "edits.scratchpad_every=3",
        "edits.novelty_threshold=1.0",
        "executor='fresh'", "transcript=false", *settings])
    run = Campaign.start(config, lambda event: None)
    try:
        run.run()
    except Killed:
        kill_at = None
    finally:
        run.close()
    if len(run.done) < 8:
        resumed = Campaign.resume(tmp_path / name, lambda event: None)
        try:
            resumed.run()
        finally:
            resumed.close()


def snapshot(run_dir):
    """What a campaign made: its programs, its iterations' plans and outcomes, its scratchpad
    insights, and how many model calls each iteration cost."""
    with ArchiveReader(archive_path(run_dir)) as reader:
        programs = [(p.code, p.parents, p.inspirations, p.island, p.status, p.score, p.edit_kind,
                     p.edit_text) for p in reader.programs(range(1, reader.count() + 1))]
        iterations = sorted((d for _, _, d in reader.events("iteration", 100)),
                            key=lambda d: d["n"])
        calls = [len(reader.model_calls(iteration=n)) for n in range(8)]
        insights = [d["insights"] for _, _, d in reader.events("scratchpad", 100)]
    return programs, iterations, calls, insights


def test_a_replay_with_other_delays_or_slots_makes_the_same_campaign(tmp_path, monkeypatch):
    """The same campaign three times: two timing streams at one slot each (the lag on by
    default), and two evaluation slots with the same lag asked for (evaluations overlap and may
    finish out of order). Same programs, plans, outcomes, calls and insights."""
    campaign(tmp_path, monkeypatch, "a", 1)
    campaign(tmp_path, monkeypatch, "b", 2)
    campaign(tmp_path, monkeypatch, "c", 3, "parallel.evaluations=2",
             f"parallel.lag={SERIAL_LAG}")
    a = snapshot(tmp_path / "a")
    assert len(a[0]) >= 5 and len({d["status"] for d in a[1]}) >= 2
    assert [d["n"] for d in a[1]] == list(range(8))
    assert snapshot(tmp_path / "b") == a
    assert snapshot(tmp_path / "c") == a


@pytest.mark.parametrize(("islands", "kill_at"), [(2, 4), (3, 2)])
def test_a_kill_mid_pipeline_then_resume_makes_the_same_plans(tmp_path, monkeypatch, islands,
                                                              kill_at):
    """At the default lag, killed instead of commit `kill_at` (that iteration evaluated, the
    proposals after it made, those an earlier commit recorded among them; with 3 islands before
    island 2's seed copy commits, while islands 1 and 2 already have proposals built on the
    seed), then resumed: the resumed campaign continues the recorded proposals (the killed
    iteration's included) without asking again, plans the others from the same archive as
    before, and ends with the archive of an uninterrupted run, model calls included."""
    islands_set = f"selection.islands={islands}"
    campaign(tmp_path, monkeypatch, "whole", 1, islands_set)
    campaign(tmp_path, monkeypatch, "killed", 2, islands_set, kill_at=kill_at)
    with ArchiveReader(archive_path(tmp_path / "killed")) as reader:
        resumed = [d for _, _, d in reader.events("campaign_resumed")]
        proposals = {d["n"] for _, _, d in reader.events("proposal", 100)}
    assert resumed == [{"done": kill_at}] and kill_at in proposals
    assert snapshot(tmp_path / "killed") == snapshot(tmp_path / "whole")


@pytest.mark.parametrize("islands", [2, 3])
def test_a_deep_lag_builds_each_island_on_the_seed_before_its_copy_commits(tmp_path, monkeypatch,
                                                                           islands):
    """With lag 3 the plan of iteration n sees the first max(1, n - 3) commits, so an island's
    first proposals are planned before its seed copy (iteration `island`) is committed: they
    ask the model to build on the seed, as the island will once its copy lands, instead of
    restarting the island (a second copy of the seed and an iteration without a proposal)."""
    campaign(tmp_path, monkeypatch, "deep", 1, f"selection.islands={islands}", "parallel.lag=3")
    seed = load_task("circle_packing").seed_code
    with ArchiveReader(archive_path(tmp_path / "deep")) as reader:
        seed_id = min(reader.find_by_hash(seed))
        iterations = sorted((d for _, _, d in reader.events("iteration", 100)),
                            key=lambda d: d["n"])
    assert [d["op"] for d in iterations] == ["seed"] * islands + ["llm"] * (8 - islands)
    early = [d for d in iterations[islands:] if max(1, d["n"] - 3) <= d["island"]]
    assert early and all(d["parent"] == seed_id for d in early)
