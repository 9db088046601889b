"""Trusted scorer and oracle for function minimisation.

The oracle evaluates the hidden function for the candidate and counts the calls; the scorer
re-evaluates the returned point itself, so the candidate's own claims about values count for
nothing.
"""

import math

import numpy as np

from evaluators.scoring import InvalidOutput, Metrics, finite_array

BOUND = 5.0
MAX_SCORE = 12.0


def _sphere(z):
    return float(np.sum(z * z))


def _rosenbrock(z):
    x = z + 1.0  # the minimum of the classic form sits at (1, ..., 1); move it to the shift
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def _rastrigin(z):
    return float(10.0 * z.size + np.sum(z * z - 10.0 * np.cos(2 * math.pi * z)))


def _ackley(z):
    n = z.size
    return float(-20.0 * np.exp(-0.2 * np.sqrt(np.sum(z * z) / n))
                 - np.exp(np.sum(np.cos(2 * math.pi * z)) / n) + 20.0 + math.e)


def _griewank(z):
    i = np.arange(1, z.size + 1)
    return float(1.0 + np.sum(z * z) / 4000.0 - np.prod(np.cos(z / np.sqrt(i))))


FUNCTIONS = {"sphere": _sphere, "rosenbrock": _rosenbrock, "rastrigin": _rastrigin,
             "ackley": _ackley, "griewank": _griewank}
"""Each has its minimum 0 at z = 0, i.e. at x = shift."""


class Objective:
    """The hidden function of one case: x -> g(x - shift), shift secret and seeded."""

    def __init__(self, case):
        self.dim = case.inputs["dim"]
        self.budget = case.inputs["budget"]
        self.g = FUNCTIONS[case.secret["function"]]
        rng = np.random.default_rng(case.secret["shift_seed"])
        self.shift = rng.uniform(-0.6 * BOUND, 0.6 * BOUND, self.dim)
        self.calls = 0

    def value(self, x) -> float:
        with np.errstate(over="ignore", invalid="ignore"):  # far-out points: see __call__
            return self.g(np.asarray(x, dtype=np.float64) - self.shift)

    def __call__(self, request):
        """f(x) for the candidate, `request` being the call's arguments as they arrived. Invariant:
        it answers at most `budget` calls, each for a point of `dim` finite numbers (any
        other request raises, which the sandbox sends back as the candidate's error, and is
        not counted), with g(x - shift): a float, never NaN; infinite only where x lies so
        far outside the box (|x| over about 1e150) that g overflows (where its arithmetic
        makes NaN, as cos(inf) does, too)."""
        if self.calls >= self.budget:
            raise RuntimeError(f"evaluation budget of {self.budget} exhausted")
        if len(request) != 1:
            raise TypeError("f takes exactly one argument, a list of numbers")
        x = np.asarray(request[0], dtype=np.float64)
        if x.shape != (self.dim,) or not np.isfinite(x).all():
            raise ValueError(f"f expects a list of {self.dim} finite numbers")
        self.calls += 1
        value = self.value(x)
        return math.inf if math.isnan(value) else value  # cos(inf) is NaN: worse than any


def oracle(stage, case):
    return Objective(case)


def score(stage, case, outputs, oracle):
    """-log10 of the regret of the returned point, as re-evaluated here, capped at MAX_SCORE.
    Invariant on what is scored: `dim` finite numbers, each within [-BOUND, BOUND], so the
    regret g(x - shift) >= 0 is finite; a regret of 0 (or below, by rounding) scores the cap."""
    x = finite_array(outputs, "the returned point", (case.inputs["dim"],))
    outside = np.flatnonzero(~(np.abs(x) <= BOUND))
    if outside.size:
        raise InvalidOutput(f"coordinate {outside[0]} of the returned point ({x[outside[0]]}) "
                            f"is outside [-{BOUND:g}, {BOUND:g}]")
    regret = max(oracle.value(x), 0.0)
    value = min(MAX_SCORE, -math.log10(regret)) if regret > 0 else MAX_SCORE
    return Metrics(value, {"regret": regret, "calls": oracle.calls})
