"""The trusted scorer every question-answering agent task names (task.toml `scorer`): the
question loop (question_loop.py, beside this file) hands the agent its questions, answers its
model calls with the campaign's agent model and keeps the gold answers; the score is the
bootstrap median of accuracy. A case's secret picks the questions (`dataset` and its keys)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the domain's trusted modules

from question_loop import oracle, prepare, score  # noqa: F401  (the scorer's contract)
