"""Trusted scorer of an agent task: the question loop (../_shared/question_loop.py) hands the
agent its questions, answers its model calls with the campaign's agent model and keeps the
gold answers; the score is the bootstrap median of accuracy."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "_shared"))  # task.toml `trusted`

from question_loop import oracle, prepare, score  # noqa: F401  (the scorer's contract)
