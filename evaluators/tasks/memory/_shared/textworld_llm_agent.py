"""The LLM agent of the TextWorld houses (trusted): the agent model picks each command, with the
whole retrieved dict in its prompt, as ALMA's agents get their memory in text games.

Each call shows the goal, the game's last answer, the room, the commands the game accepts now,
the recent commands and the retrieved memory (as JSON, cut at MEMORY_CHARS), and asks for one
command. Alongside, the scripted text agent with the same hints proposes its own command: the
`reference` of each call (real models ignore it; the CI simulator answers from it) and the
command issued when a reply names none the game accepts (counted in `fallbacks`). The scripted
agent's bookkeeping assumes its own commands were issued, so after a model's different choice
its fallback is a guess, not a plan: good enough for a reply the game would have refused.
"""

import json

from grid_llm_agent import answer_field
from textworld_agent import Hints, TextAgent

from evaluators.agent_model import AgentModel

MEMORY_CHARS = 4000

SYSTEM = """You play a text adventure in a house whose rooms, containers and objects never \
move between episodes, so the memory (notes from earlier episodes in the same houses) may tell \
you where things are. Each turn, issue exactly one of the commands the game accepts now. Take \
the goal object within the commands left.

Reply in the following JSON format.
{
    "thinking": "your reasoning, briefly",
    "answer": "one command, exactly as listed"
}"""


class TextLLMAgent:
    def __init__(self, model: AgentModel, goal: str, target: str, retrieved: dict,
                 hints: Hints, seed: str, temperature: float = 0.0, *,
                 scripted: TextAgent | None = None, system: str = SYSTEM):
        """`scripted`: the agent whose command is each call's reference (the scripted text
        agent by default); `system`: the prompt that says what kind of game this is."""
        self.model, self.goal, self.temperature = model, goal, temperature
        self.memory = json.dumps(retrieved)[:MEMORY_CHARS]
        self.scripted = scripted or TextAgent(target, hints, seed)
        self.system = system
        self.history: list[str] = []
        self.calls = 0
        self.fallbacks = 0

    def act(self, obs: dict) -> str:
        suggestion = self.scripted.act(obs)
        self.calls += 1
        reply = self.model(self._messages(obs), temperature=self.temperature,
                           reference=suggestion)
        command = " ".join(answer_field(reply).lower().strip(" .\"'`").split())
        if command not in obs["admissible"]:
            self.fallbacks += 1
            command = suggestion
        self.history.append(f"{command} (in {obs['room']})")
        return command

    def _messages(self, obs: dict) -> list[dict[str, str]]:
        user = (f"Goal: {self.goal}.\nHouse {obs['world']}; you are in the {obs['room']} with "
                f"{obs['steps_left']} commands left.\nThe game says: {obs['text']}\nCommands "
                f"accepted now: {'; '.join(obs['admissible'])}.\nYour last commands: "
                f"{'; '.join(self.history[-10:]) or 'none'}.\nMemory: {self.memory}")
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]
