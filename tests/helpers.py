"""Small helpers shared by test modules."""

import re

from evaluators.sandbox import Sandbox
from evaluators.task import load_task


def smoke_crash_reason(task_name: str, header: str, body: str) -> str:
    """Evaluate the task's seed with the body of the function whose `def` line is `header`
    (inside the EVOLVE-BLOCK) replaced by `body`, check that the run crashed in the smoke
    stage, and return the recorded reason: how tests write misbehaving candidates."""
    task = load_task(task_name)
    code = re.sub(rf"({re.escape(header)}\n).*?(# EVOLVE-BLOCK-END)",
                  lambda m: f"{m.group(1)}    {body}\n{m.group(2)}", task.seed_code,
                  flags=re.DOTALL)
    result = task.evaluate(code, Sandbox())[0]
    assert result.stage == "smoke" and result.status == "crashed", result
    return result.reason
