"""Helpers for the memory tasks' tests: programs built around a Memory class, and a task's
trusted modules on the path."""

import importlib.util
import json
import re
import sys
from pathlib import Path

from evaluators.task import TASKS_DIR, Case, LimitsConfig, StageConfig, load_task

SHARED = TASKS_DIR / "memory" / "_shared"
sys.path.insert(0, str(SHARED))


def program(task_name: str, block: str) -> str:
    """The task's seed with its EVOLVE-BLOCK replaced by `block` (a Memory class)."""
    return re.sub(r"(# EVOLVE-BLOCK-START\n).*?(# EVOLVE-BLOCK-END)",
                  lambda m: m.group(1) + block.strip("\n") + "\n" + m.group(2),
                  load_task(task_name).seed_code, flags=re.DOTALL)


def baseline(task_name: str, name: str) -> Path:
    task = load_task(task_name)
    return task.root / task.config.baselines / f"{name}.py"


def memory_class(path: Path) -> type:
    """The Memory class of a program file, loaded in this process (trusted programs only)."""
    spec = importlib.util.spec_from_file_location(f"memory_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Memory


def smoke(task_name: str, **limits) -> tuple[StageConfig, Case]:
    """The task's smoke stage (with `limits` changed) and its first case."""
    stage = load_task(task_name).config.stages[0]
    stage = StageConfig(name=stage.name, cases=stage.cases,
                        limits=LimitsConfig(**{**stage.limits.model_dump(), **limits}))
    config = stage.cases[0]
    return stage, Case(config.name, config.inputs, config.secret)


class Echo:
    """A stand-in agent model that answers the reference (the scripted agent's move or
    command: the LLM agent then plays as the scripted one) and keeps the prompts."""

    def __init__(self):
        self.prompts = []

    def __call__(self, messages, *, temperature=None, reference=None):
        self.prompts.append(messages[-1]["content"])
        return json.dumps({"thinking": "as suggested", "answer": reference})
