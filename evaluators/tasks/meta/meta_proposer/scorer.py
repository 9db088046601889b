"""The meta task's trusted scorer: inner campaigns with the candidate proposer
(../_shared/inner_campaigns.py), scored by the improvement they make over their seeds."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "_shared"))  # the room's trusted code

from inner_campaigns import oracle, prepare, score  # noqa: F401  (the scorer's contract)
