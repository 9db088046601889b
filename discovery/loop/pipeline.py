"""The threading beneath the loop: iterations flow plan -> propose -> evaluate -> commit with no
generation barrier. Planning and committing run in the calling thread (they read and write the
archive); proposals (model calls, edit checks) run in one thread pool and evaluations (sandbox
runs) in another, so `proposals` model calls and `evaluations` sandbox runs are in flight at
once and a slow one holds up nothing else.

Two ways to schedule them:

- **free-running** (`lag=None`): an iteration starts whenever a slot is free and commits when it
  finishes. Fastest with many slots, but which plans see which commits depends on timing.
- **lagged** (`lag=L`): deterministic. Plans are made and committed in one order, one
  proposal at a time; the plan made i-th sees exactly the first max(1, i - L) commits (the
  seed's alone, then one more per commit), because commit i - L waits until plan i is made and
  its proposal has finished: no proposal ever reads an archive a later commit has changed, and
  every plan is made after the proposals before it finished. Each commit carries, in its own
  transaction, the proposals finished since the one before (`ahead`), so a resume continues
  them instead of asking again from an archive that has moved on. So up to L + 1 iterations
  are in flight (L of them evaluating side by side, given the slots), whatever the timing
  makes the same plans and archive, and L = 1 lets the next proposal run beside the current
  evaluation: an iteration costs about max(model, evaluation) time instead of their sum.

Each stage runs inside `track(stage, plan)`, entered in the worker thread, so the campaign's
heartbeat lists what is in flight (a model call for iteration 7 since 12 s) and since when.
`abandon()` true (a second Ctrl-C) ends the loop at once: the worker threads are left to finish
on their own, nothing of theirs is committed, and their iterations (no `iteration` event) are
redone by `resume`.
"""

import concurrent.futures as cf
import contextlib
from collections import deque
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
    commit: Callable[[Outcome, list[Outcome]], None]
    """Everything recorded in one archive transaction (calling thread), with the proposals
    of later iterations finished since the last commit (`ahead`), recorded as made."""
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
                 abandon: Callable[[], str | None] = lambda: None,
                 lag: int | None = None) -> str:
    """Keep iterations flowing until `stop()` names a reason, then drain what is in flight and
    return that reason; or, as soon as `abandon()` names one, return that at once, leaving
    what is in flight uncommitted. `room(in_flight)` says whether one more iteration may start
    beside those in flight (the budget, counting committed ones, is the caller's business).
    `lag`: None runs free, a number deterministically (the module's docstring)."""
    in_flight_max = proposals + evaluations - 1
    reason = "budget: iterations"
    proposers = cf.ThreadPoolExecutor(proposals, "propose")
    evaluators = cf.ThreadPoolExecutor(evaluations, "evaluate")
    proposing: set[cf.Future] = set()
    evaluating: set[cf.Future] = set()
    order: deque[int] = deque()
    """Iterations not yet committed, in the order planned (a lagged run commits in this
    order)."""
    ready: dict[int, Outcome] = {}
    """Finished iterations waiting for their commit, by number, in the order they finished."""
    fresh: list[Outcome] = []
    """Proposals finished since the last commit: the next commit records them."""
    planned = committed = 0
    wait = True
    """Whether leaving waits for the worker threads (not when abandoning them)."""

    def may_plan(why: str | None) -> bool:
        if why is not None or len(proposing) >= proposals:
            return False
        in_flight = planned - committed
        if lag is None:
            return in_flight < in_flight_max and room(in_flight)
        return not proposing and planned <= committed + lag and room(in_flight)

    def may_commit(why: str | None) -> Outcome | None:
        """The outcome to commit now, if any: free-running, the first to finish; lagged, the
        oldest plan's, once the plans its commit must precede are made (or no more will be)
        and none of them is still proposing."""
        if lag is None:
            return next(iter(ready.values()), None)
        head = ready.get(order[0]) if order else None
        if head is None or proposing:
            return None
        closed = why is not None or not room(planned - committed)
        return head if planned > committed + lag or closed else None

    try:
        while True:
            while True:  # commit and plan what may be, each step seeing the one before
                why = stop()
                reason = why or reason
                outcome = may_commit(why)
                if outcome is not None:
                    del ready[outcome.plan.n]
                    order.remove(outcome.plan.n)
                    ahead = [o for o in fresh if o is not outcome]
                    fresh.clear()
                    stages.commit(outcome, ahead)
                    committed += 1
                elif may_plan(why):
                    plan = stages.plan()
                    order.append(plan.n)
                    planned += 1
                    proposing.add(proposers.submit(_tracked, stages.track, "propose",
                                                   stages.propose, plan, plan))
                else:
                    break
            if not proposing and not evaluating and not ready:
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
                    fresh.append(outcome)
                    if outcome.needs_evaluation:
                        evaluating.add(evaluators.submit(_tracked, stages.track, "evaluate",
                                                         stages.evaluate, outcome, outcome.plan))
                        continue
                else:
                    evaluating.discard(future)
                ready[outcome.plan.n] = outcome
    finally:
        for pool in (proposers, evaluators):
            pool.shutdown(wait=wait, cancel_futures=not wait)
