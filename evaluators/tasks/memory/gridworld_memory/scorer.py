"""Trusted scorer of the grid-world memory task: its cases search on the `scatter` domain
(generated walled squares, gridworld.make_world) and hold out others too; the stream, the
agent, the baseline and the metrics are the domain's (_shared/grid_scoring.py). A case's
`secret` says which stream (every key but `seed` has a default, see grid_scoring.GridCase); the
candidate sees none of it, only the recorders of the episodes.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

from grid_scoring import GridCase, GridScorer, grid_worlds

SCORER = GridScorer(GridCase, grid_worlds)
prepare, oracle, score = SCORER.prepare, SCORER.oracle, SCORER.score
