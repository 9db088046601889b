"""The threading beneath the loop: iterations flow plan -> propose -> evaluate -> commit with no
generation barrier. Planning and committing run in the calling thread (they read and write the
archive); proposals (model calls, edit checks) run in one thread pool and evaluations (sandbox
runs) in another, so `proposals` model calls and `evaluations` sandbox runs are in flight at
once and a slow one holds up nothing else. With one of each, iterations run strictly one after
another: exactly reproducible.
"""

import concurrent.futures as cf
from collections.abc import Callable
from dataclasses import dataclass

from discovery.loop.plan import Outcome, Plan


@dataclass(frozen=True)
class Stages:
    plan: Callable[[], Plan]
    """The next iteration's plan (calling thread)."""
    propose: Callable[[Plan], Outcome]
    """Its child: a model's proposal and the edit checks (proposal pool)."""
    evaluate: Callable[[Outcome], Outcome]
    """The child scored in the sandbox by the trusted scorer (evaluation pool)."""
    commit: Callable[[Outcome], None]
    """Everything recorded in one archive transaction (calling thread)."""


def run_pipeline(stages: Stages, proposals: int, evaluations: int,
                 stop: Callable[[], str | None], room: Callable[[int], bool]) -> str:
    """Keep iterations flowing until `stop()` names a reason, then drain what is in flight and
    return that reason. `room(in_flight)` says whether one more iteration may start beside
    those in flight (the budget, counting committed ones, is the caller's business)."""
    in_flight_max = proposals + evaluations - 1
    reason = "budget: iterations"
    with cf.ThreadPoolExecutor(proposals, "propose") as proposers, \
            cf.ThreadPoolExecutor(evaluations, "evaluate") as evaluators:
        proposing: set[cf.Future] = set()
        evaluating: set[cf.Future] = set()
        while True:
            why = stop()
            if why is None:
                while (len(proposing) < proposals
                       and len(proposing) + len(evaluating) < in_flight_max
                       and room(len(proposing) + len(evaluating))):
                    proposing.add(proposers.submit(stages.propose, stages.plan()))
            else:
                reason = why
            if not proposing and not evaluating:
                return reason
            finished, _ = cf.wait(proposing | evaluating, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                outcome = future.result()
                if future in proposing:
                    proposing.discard(future)
                    if outcome.needs_evaluation:
                        evaluating.add(evaluators.submit(stages.evaluate, outcome))
                        continue
                else:
                    evaluating.discard(future)
                stages.commit(outcome)
