"""Non-LLM operators: part of every campaign's mix, and the baselines it must beat.

`tune_constants` runs CMA-ES (Hansen's `cma`) over the float literals inside the parent's
EVOLVE-BLOCK, scoring each setting in the sandbox: a cheap local search over the constants a
model chose. A restart goes back to the task's seed program. "Simple Baselines are Competitive
with Code Evolution" (2026) is why both are always on.
"""

import io
import math
import tokenize
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from discovery.search.edits import EditError, evolve_block


@dataclass
class Tuned:
    code: str
    score: float
    evaluations: int


def float_literals(program: str) -> list[tokenize.TokenInfo]:
    """The float literals inside the EVOLVE-BLOCK. Integers are left alone: they are counts,
    indices and sizes far more often than tunable constants."""
    start, end = evolve_block(program)
    tokens = tokenize.generate_tokens(io.StringIO(program).readline)
    return [tok for tok in tokens if tok.type == tokenize.NUMBER
            and start < tok.start[0] - 1 < end and not tok.string.endswith(("j", "J"))
            and isinstance(_value(tok.string), float)]


def with_values(program: str, literals: list[tokenize.TokenInfo], values: list[float]) -> str:
    lines = program.splitlines(keepends=True)
    for tok, value in sorted(zip(literals, values, strict=True), key=lambda p: p[0].start,
                             reverse=True):
        row, col = tok.start[0] - 1, tok.start[1]
        new = repr(round(float(value), 9))
        lines[row] = lines[row][:col] + new + lines[row][col + len(tok.string):]
    return "".join(lines)


def tune_constants(program: str, score: Callable[[str], float | None], seed: int,
                   evaluations: int, sigma: float = 0.1) -> Tuned:
    """CMA-ES over the block's float constants for `evaluations` sandbox runs; the best setting
    found (the parent's own if nothing beat it, then with score -inf).

    Each constant c is searched as c * (1 + x) (x for c = 0), so one step size fits constants
    of any magnitude; `score` returns None for a program that failed."""
    literals = float_literals(program)
    if not literals:
        raise EditError("the block has no float constants to tune")
    base = [_value(tok.string) for tok in literals]
    with warnings.catch_warnings():  # cma warns that matplotlib (for its plots) is missing
        warnings.simplefilter("ignore")
        import cma
    strategy = cma.CMAEvolutionStrategy([0.0] * len(base), sigma, {
        "seed": seed % 2**31 + 1, "verbose": -9, "maxfevals": evaluations,
        "popsize": max(2, min(evaluations, 4 + int(3 * math.log(len(base)))))})
    best = Tuned(program, -math.inf, 0)
    spent = 0
    while spent < evaluations:
        xs = strategy.ask()[:evaluations - spent]
        losses = []
        for x in xs:
            values = [c * (1 + d) if c else d for c, d in zip(base, x, strict=True)]
            code = with_values(program, literals, values)
            result = score(code)
            spent += 1
            losses.append(math.inf if result is None else -result)
            if result is not None and result > best.score:
                best = Tuned(code, result, 0)
        if len(xs) < strategy.popsize:
            break  # the budget ended inside a generation: its partial results are not told
        strategy.tell(xs, [min(loss, 1e300) for loss in losses])
    best.evaluations = spent
    return best


def _value(literal: str) -> int | float:
    return eval(literal, {"__builtins__": {}})  # a NUMBER token: a literal, nothing else
