"""The threading beneath the loop: iterations flow plan -> propose -> evaluate -> commit with no
generation barrier. Planning and committing run in the calling thread (they read and write the
archive); proposals (model calls, edit checks) run in one thread pool and evaluations (sandbox
runs) in another, so `proposals` model calls and `evaluations` sandbox runs are in flight at
once and a slow one holds up nothing else. With one of each, iterations run strictly one after
another: exactly reproducible.

Each stage runs inside `track(stage, plan)`, entered in the worker thread, so the campaign's
heartbeat lists what is in flight (a model call for iteration 7 since 12 s) and since when.
`abandon()` true (a second Ctrl-C) ends the loop at once: the worker threads are left to finish
on their own, nothing of theirs is committed, and their iterations (no `iteration` event) are
redone by `resume`.
"""

import concurrent.futures as cf
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

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
    track: Callable[[str, Plan], AbstractContextManager[Any]] = \
        lambda stage, plan: contextlib.nullcontext()
    """The context a stage ("propose" or "evaluate") of an iteration runs in (worker
    thread): what is in flight, for the heartbeat."""


POLL_S = 0.2
"""How often the calling thread looks at `abandon()` while it waits for work in flight."""


def _tracked(track: Callable[[str, Plan], AbstractContextManager[Any]], stage: str,
             work: Callable[[Any], Outcome], item: Any, plan: Plan) -> Outcome:
    with track(stage, plan):
        return work(item)


def run_pipeline(stages: Stages, proposals: int, evaluations: int,
                 stop: Callable[[], str | None], room: Callable[[int], bool],
                 abandon: Callable[[], str | None] = lambda: None) -> str:
    """Keep iterations flowing until `stop()` names a reason, then drain what is in flight and
    return that reason; or, as soon as `abandon()` names one, return that at once, leaving
    what is in flight uncommitted. `room(in_flight)` says whether one more iteration may start
    beside those in flight (the budget, counting committed ones, is the caller's business)."""
    in_flight_max = proposals + evaluations - 1
    reason = "budget: iterations"
    proposers = cf.ThreadPoolExecutor(proposals, "propose")
    evaluators = cf.ThreadPoolExecutor(evaluations, "evaluate")
    proposing: set[cf.Future] = set()
    evaluating: set[cf.Future] = set()
    wait = True
    """Whether leaving waits for the worker threads (not when abandoning them)."""
    try:
        while True:
            why = stop()
            if why is None:
                while (len(proposing) < proposals
                       and len(proposing) + len(evaluating) < in_flight_max
                       and room(len(proposing) + len(evaluating))):
                    plan = stages.plan()
                    proposing.add(proposers.submit(_tracked, stages.track, "propose",
                                                   stages.propose, plan, plan))
            else:
                reason = why
            if not proposing and not evaluating:
                return reason
            finished, _ = cf.wait(proposing | evaluating, timeout=POLL_S,
                                  return_when=cf.FIRST_COMPLETED)
            now = abandon()
            if now is not None:
                wait = False
                return now
            for future in finished:
                outcome = future.result()
                if future in proposing:
                    proposing.discard(future)
                    if outcome.needs_evaluation:
                        evaluating.add(evaluators.submit(_tracked, stages.track, "evaluate",
                                                         stages.evaluate, outcome, outcome.plan))
                        continue
                else:
                    evaluating.discard(future)
                stages.commit(outcome)
    finally:
        for pool in (proposers, evaluators):
            pool.shutdown(wait=wait, cancel_futures=not wait)
