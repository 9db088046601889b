"""Trusted scorer of a task that rewards speed: the count must be right, and the score is how
little CPU time the run took.

`cpu_s` is a keyword that `score()` declares to receive the run's CPU time as the sandbox
measured it: every process the candidate started is counted (a cpu cgroup, or the warm worker
reaping them all), so a program can neither report its own time nor hide work in a child
process. Scorers that do not declare it are called without it.
"""

import math

from evaluators.scoring import InvalidOutput, Metrics

FLOOR_S = 1e-3
"""CPU times under a millisecond count as one: beyond the clock's resolution, a program that
did no work could otherwise score without bound."""


def score(stage, case, outputs, oracle, *, cpu_s):
    if isinstance(outputs, bool) or not isinstance(outputs, int):
        raise InvalidOutput(f"the count is a {type(outputs).__name__}, not an int")
    if outputs != case.secret["count"]:
        raise InvalidOutput(f"{outputs} is not the number of primes below {case.inputs['n']}")
    # a log scale: halving the time is worth the same at any speed
    return Metrics(-math.log10(max(cpu_s, FLOOR_S)), {"cpu_s": cpu_s})
