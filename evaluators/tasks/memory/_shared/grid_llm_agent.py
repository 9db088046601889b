"""The LLM agent of the grid world (trusted): the agent model picks the moves, with the whole
retrieved dict in its prompt, as ALMA's agents get their memory.

Each call shows the goal, what the agent sees now, the recent moves and the retrieved memory
(as JSON, cut at MEMORY_CHARS), and asks for the next 1 to MOVES_PER_CALL moves; they are made
in order, then the model is asked again. Alongside, a scripted agent with the same hints keeps
track of what has been seen and proposes its own next move: the `reference` of each call (real
models ignore it; the CI simulator answers from it) and the move made when a reply names no
move at all (counted in `fallbacks`).
"""

import json
import re
from collections import deque
from collections.abc import Iterable
from typing import Any

from grid_agent import Hints, ScriptedAgent
from gridworld import MOVES

from evaluators.agent_model import AgentModel

MOVES_PER_CALL = 5
MEMORY_CHARS = 4000


def move_pattern(moves: Iterable[str]) -> re.Pattern[str]:
    """A regex that finds `moves` as whole words, longest first (so `northeast` is not read
    as `north`)."""
    return re.compile(r"\b(" + "|".join(sorted(moves, key=len, reverse=True)) + r")\b", re.I)


SYSTEM = f"""You control an agent in a grid world. Cells are [x, y]; x grows eastwards, y \
southwards; a move is one of {", ".join(MOVES)}; walking into a wall wastes the move. You see \
a small square of cells around you. Items and walls never move, so the memory (notes from earlier \
episodes in the same worlds) may tell you where things are. Reach the goal item within the \
steps left.

Reply in the following JSON format.
{{
    "thinking": "your reasoning, briefly",
    "answer": "the next 1 to {MOVES_PER_CALL} moves, separated by spaces"
}}"""


class LLMAgent:
    """The loop of a world's LLM agent. Another world's agent (MiniHack's MazeLLMAgent)
    subclasses it with its own MOVE_PATTERN, SYSTEM, scripted_agent and _situation; `act`'s extra
    arguments (the maze's screen) go on to its scripted agent and its prompt."""

    MOVE_PATTERN = move_pattern(MOVES)
    """The moves a reply names, read in order (case-insensitive, whole words)."""
    SYSTEM = SYSTEM
    """The system prompt: the world, its moves and the reply's format."""

    def __init__(self, model: AgentModel, goal: str, goal_item: str, retrieved: dict,
                 hints: Any, seed: str, temperature: float = 0.0):
        self.model, self.goal, self.temperature = model, goal, temperature
        self.memory = json.dumps(retrieved)[:MEMORY_CHARS]
        self.scripted = self.scripted_agent(goal_item, hints, seed)
        self.queue: deque[str] = deque()
        self.history: list[str] = []
        self.calls = 0
        self.fallbacks = 0

    def scripted_agent(self, goal_item: str, hints: Hints, seed: str) -> Any:
        """The scripted agent whose move is each call's reference and the fallback; its
        `act` takes the same arguments as this agent's."""
        return ScriptedAgent(goal_item, hints, seed)

    def act(self, obs: dict, *view: Any) -> str:
        suggestion = self.scripted.act(obs, *view)
        if not self.queue:
            self.calls += 1
            reply = self.model(self._messages(obs, *view), temperature=self.temperature,
                               reference=suggestion)
            moves = self.MOVE_PATTERN.findall(answer_field(reply))[:MOVES_PER_CALL]
            self.queue.extend(m.lower() for m in moves)
        if not self.queue:
            self.fallbacks += 1
            self.queue.append(suggestion)
        move = self.queue.popleft()
        self.history.append(f"{move} from {obs['position']}")
        return move

    def _messages(self, obs: dict, *view: Any) -> list[dict[str, str]]:
        user = (f"Goal: {self.goal}.\n{self._situation(obs, *view)}\nYour last moves: "
                f"{'; '.join(self.history[-10:]) or 'none'}.\nMemory: {self.memory}")
        return [{"role": "system", "content": self.SYSTEM}, {"role": "user", "content": user}]

    def _situation(self, obs: dict) -> str:
        """The prompt's lines on where the agent is and what it sees now."""
        items = ", ".join(f"{name} at {cell}" for name, cell in obs["items"].items()) or "none"
        view = "\n".join(obs["view"])
        x, y = obs["position"]
        r = len(obs["view"]) // 2
        return (f"World {obs['world']} ({obs['size']}x{obs['size']}); you are at [{x}, {y}] "
                f"with {obs['steps_left']} steps left.\nWhat you see (# wall, . open; the "
                f"top-left character is [{x - r}, {y - r}], you are in the middle):\n{view}\n"
                f"Items in sight: {items}.")


def answer_field(reply: str) -> str:
    """The `answer` field of a JSON reply, or the whole reply if it is not that JSON."""
    match = re.search(r"\{.*\}", reply, re.S)
    try:
        answer = json.loads(match.group(0))["answer"] if match else reply
    except (ValueError, KeyError, TypeError):
        return reply
    return answer if isinstance(answer, str) else reply
