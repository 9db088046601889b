"""Non-LLM operators: part of every campaign's mix, and the baselines it must beat.

`tune_constants` perturbs the numeric literals inside the parent's EVOLVE-BLOCK (a cheap local
search over the constants a model chose); a restart goes back to the task's seed program.
"Simple Baselines are Competitive with Code Evolution" (2026) is why both are always on.
"""

import io
import random
import tokenize

from discovery.edits import EditError, evolve_block


def tune_constants(program: str, rng: random.Random, scale: float = 0.1) -> str:
    """The program with some numeric literals of its EVOLVE-BLOCK nudged: floats by a relative
    Gaussian step, integers above 1 by one; at least one literal changes."""
    start, end = evolve_block(program)
    tokens = list(tokenize.generate_tokens(io.StringIO(program).readline))
    numbers = [i for i, tok in enumerate(tokens) if tok.type == tokenize.NUMBER
               and start < tok.start[0] - 1 < end and not tok.string.endswith(("j", "J"))]
    if not numbers:
        raise EditError("the block has no numeric constants to tune")
    chosen = [i for i in numbers if rng.random() < 0.3] or [rng.choice(numbers)]
    lines = program.splitlines(keepends=True)
    for i in sorted(chosen, key=lambda i: tokens[i].start, reverse=True):
        tok = tokens[i]
        row, col = tok.start[0] - 1, tok.start[1]
        new = _nudge(tok.string, rng, scale)
        lines[row] = lines[row][:col] + new + lines[row][col + len(tok.string):]
    return "".join(lines)


def _nudge(literal: str, rng: random.Random, scale: float) -> str:
    value = eval(literal, {"__builtins__": {}})  # a NUMBER token: a literal, nothing else
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 1:
            return literal
        return str(max(1, value + rng.choice((-1, 1))))
    return repr(round(value * (1 + rng.gauss(0, scale)) if value else rng.gauss(0, scale), 6))
