"""Small helpers shared by test modules."""

import re


def with_body(code: str, header: str, body: str) -> str:
    """The program with the body of the function whose `def` line is `header` (inside the
    EVOLVE-BLOCK) replaced by `body`: how tests write misbehaving candidates."""
    return re.sub(rf"({re.escape(header)}\n).*?(# EVOLVE-BLOCK-END)",
                  lambda m: f"{m.group(1)}    {body}\n{m.group(2)}", code, flags=re.DOTALL)
