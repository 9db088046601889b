"""The shipped tasks by name, found from the folder layout alone: the command line lists them
in its help, and must not load a task (pydantic, numpy) to start."""

from pathlib import Path

TASKS_DIR = Path(__file__).with_name("tasks")


def task_names() -> list[str]:
    return sorted(task_folders())


def task_folders() -> dict[str, Path]:
    """Every shipped task by its plain name: `tasks/<domain>/<name>/task.toml`."""
    return {p.parent.name: p.parent for p in TASKS_DIR.glob("*/*/task.toml")}
