"""The trusted side of the meta room: inner campaigns run with a candidate proposer.

A case lists inner discovery problems (a shipped task, its iterations, its seed). The
candidate proposer program runs in the sandbox as `main(oracle)` and only answers requests
(`proposer_api.serve`); this oracle owns everything else. On the candidate's first `next` it
starts, on a thread of its own, one short campaign per problem with the real loop
(discovery.loop.campaign: the inner task's own sandbox and scorer, fixed seed, one island, no
tuning, restarts or scratchpad), whose proposer is the built-in one with the candidate between
it and the model (discovery.meta.program). Each request the inner loop makes goes to the
waiting candidate as the answer to its `next`; its model calls go to the campaign's agent
model (the case's, budgeted and recorded by the outer campaign). The candidate never sees an
inner score except what a request carries (its parent's metrics) and what `evaluate` answers.

The score is the mean over problems of the inner best's improvement over the inner seed,
normalised by the seed's magnitude (problems score on different scales), with a bootstrap
interval over the problems. The campaign side is imported here, not in the candidate's process:
the trusted side of this room is a campaign.
"""

import random
import shutil
import statistics
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from archive import ArchiveReader, ModelCall, archive_path
from discovery.config import CampaignConfig, ProposerSettings
from discovery.loop.campaign import Campaign
from discovery.meta.program import ProgramProposer, Session
from discovery.models.base import CallFailed, Completion, Messages, ModelSpec
from evaluators.agent_model import AgentModel, AgentModelError
from evaluators.scoring import InvalidOutput, Metrics

GENERATED = {"sphere_points": (10, 40)}
"""Generated problem families (a template folder beside this file), with the range their
seeded size is drawn from: a problem `{generated = "sphere_points", seed = 3}` is one size."""
CHANNEL = "agent-model"
"""The inner campaigns' model name: the outer campaign's agent model, through the channel."""
BOOTSTRAP_SAMPLES = 1000
SETTINGS = ProposerSettings(program="seed", model_calls=4, evaluations=2, wall_s=600)
"""What a candidate may do for one inner request (as `[proposer]` of an outer campaign)."""


class ChannelClient:
    """The case's agent model as the inner campaign's meta model: every call is counted and
    recorded by the outer campaign (its agent-model budget); a refused call is a failed
    call of the inner campaign, never an error of ours."""

    def __init__(self, model: AgentModel, spec: ModelSpec):
        self.model, self.spec = model, spec
        self.calls = 0

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        self.calls += 1
        try:
            text = self.model(messages, temperature=temperature)
        except AgentModelError as exc:
            raise CallFailed(str(exc), [ModelCall(CHANNEL, purpose, error=str(exc))]) from None
        call = ModelCall(CHANNEL, purpose, raw_response=text)
        return Completion(CHANNEL, text, 0, 0, 0.0, 0.0, (call,))


class InnerCampaigns:
    """The oracle of one case: the session the candidate talks to, and the inner campaigns
    behind it (`_Inner`, on a thread of their own), started on the first request. When the
    candidate's run ends without a score (it crashed, timed out), the evaluator drops this
    oracle: its finaliser closes the session, so the inner campaigns stop waiting for answers
    at once and the thread ends (a process exiting joins the inner loop's thread pools)."""

    def __init__(self, case_name: str, secret: dict[str, Any], model: AgentModel | None):
        if model is None:
            raise ValueError("the meta task needs an agent model: set [agent_model]")
        self.inner = _Inner(secret["problems"], secret.get("edit_mix"), model)
        self.problems, self.session = self.inner.problems, self.inner.session
        self._thread = threading.Thread(target=self.inner.run, name=f"meta-{case_name}",
                                        daemon=True)
        self._lock = threading.Lock()
        weakref.finalize(self, self.session.close, "the proposer program's run ended")

    def __call__(self, request: Any) -> Any:
        with self._lock:
            if self._thread.ident is None:
                self._thread.start()
        return self.session(request)

    def finish(self) -> list[dict[str, Any]]:
        """The inner results, once the inner campaigns end (the candidate returned: whatever
        it left unanswered fails at once)."""
        self.session.close("the proposer program returned")
        if self._thread.ident is not None:
            self._thread.join()
        if self.inner.error is not None:
            raise self.inner.error
        return self.inner.results


class _Inner:
    """The inner campaigns of one case, one problem after another; what the thread holds."""

    def __init__(self, problems: list[dict[str, Any]], edit_mix: dict[str, float] | None,
                 model: AgentModel):
        self.problems, self.edit_mix, self.model = problems, edit_mix, model
        self.session = Session(SETTINGS)
        self.results: list[dict[str, Any]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="meta-inner-") as runs:
                for index, problem in enumerate(self.problems):
                    self.results.append(self._inner(index, problem, Path(runs)))
        except BaseException as exc:  # a bug of ours: the scorer raises it as the task's error
            self.error = exc
        finally:
            self.session.close("the inner campaigns are done")

    def _inner(self, index: int, problem: dict[str, Any], runs: Path) -> dict[str, Any]:
        task, name = generated_task(problem, runs / f"task{index}") if "generated" in problem \
            else (problem["task"], problem["task"])
        config = CampaignConfig.model_validate({
            "task": task, "name": f"p{index}", "runs_dir": str(runs),
            "seed": problem.get("seed", 0),
            "models": [{"name": CHANNEL, **({"edit_mix": self.edit_mix} if self.edit_mix else {})}],
            "budgets": {"iterations": problem["iterations"]}, "transcript": False,
            "selection": {"islands": 1}, "executor": "fresh",
            "edits": {"tune_share": 0, "restart_share": 0, "scratchpad_every": 0}})
        client = ChannelClient(self.model, config.models[0])
        campaign = Campaign.start(config, lambda event: None, clients={CHANNEL: client})
        try:
            campaign.proposer = ProgramProposer(campaign.proposer, self.session, SETTINGS)
            campaign.run()
        finally:
            campaign.close()
        with ArchiveReader(archive_path(runs / f"p{index}")) as reader:
            seed, best = reader.program(1).score, reader.best()
        if seed is None or best is None:
            raise ValueError(f"the inner task {name}'s seed did not score")
        return {"task": name, "seed": seed, "best": best.score,
                "improvement": (best.score - seed) / max(abs(seed), 1e-9),
                "model_calls": client.calls}


def generated_task(problem: dict[str, Any], folder: Path) -> tuple[str, str]:
    """A generated problem's task folder, written at `folder` from its family's template with
    the size its seed draws: (the folder, the task's name)."""
    low, high = GENERATED[problem["generated"]]
    n = random.Random(f"{problem['generated']}:{problem.get('seed', 0)}").randint(low, high)
    shutil.copytree(Path(__file__).parent / problem["generated"], folder)
    template = (folder / "task.toml.in").read_text(encoding="utf-8")
    (folder / "task.toml").write_text(template.format(n=n), encoding="utf-8")
    return str(folder), f"{problem['generated']}_{n}"


def oracle(stage: str, case: Any) -> InnerCampaigns:
    return InnerCampaigns(case.name, case.secret, case.model)


def score(stage: str, case: Any, outputs: Any, oracle: InnerCampaigns) -> Metrics:
    """Mean normalised improvement over the case's problems, with a bootstrap interval."""
    results = oracle.finish()
    if len(results) != len(oracle.problems):
        raise InvalidOutput("the proposer program returned before the inner campaigns asked "
                            "for their proposals")
    gains = [r["improvement"] for r in results]
    rng = random.Random(0)
    means = sorted(statistics.fmean(rng.choices(gains, k=len(gains)))
                   for _ in range(BOOTSTRAP_SAMPLES))
    public: dict[str, Any] = {
        "ci_low": means[int(0.025 * BOOTSTRAP_SAMPLES)],
        "ci_high": means[int(0.975 * BOOTSTRAP_SAMPLES) - 1],
        "requests": oracle.session.requests, "model_calls": oracle.session.model_calls,
        "evaluations": oracle.session.evaluations}
    for result in results:
        public[f"{result['task']}_improvement"] = result["improvement"]
    private = {f"{r['task']}_{key}": r[key] for r in results for key in ("seed", "best")}
    return Metrics(statistics.fmean(gains), public, private)


def prepare(stages: list[Any]) -> None:
    """Each case names problems of shipped tasks, with iterations."""
    from evaluators.task import load_task

    for stage in stages:
        for case in stage.cases:
            for problem in case.secret.get("problems", []):
                if "generated" in problem:
                    if problem["generated"] not in GENERATED:
                        raise ValueError(f"case {case.name}: no generated problem family "
                                         f"{problem['generated']!r} (known: "
                                         f"{', '.join(GENERATED)})")
                else:
                    load_task(problem["task"])
                if not isinstance(problem.get("iterations"), int) or problem["iterations"] < 1:
                    raise ValueError(f"case {case.name}: a problem needs iterations >= 1")
