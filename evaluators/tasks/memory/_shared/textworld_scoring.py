"""What the TextWorld memory task's scorer runs (trusted): the grid tasks' scorer
(grid_scoring.GridScorer: case keys, no-memory baseline, metrics) with TextWorld's worlds,
tasks, episodes and agents (the scripted text agent, or the LLM agent) in place of the grid's.
The stream is the same (memory_stream.alma_stream), so a memory sees ALMA's protocol and
recorders in every domain.
"""

from grid_scoring import GridScorer, StreamCase
from textworld_agent import Hints, TextAgent, read_hints
from textworld_llm_agent import SYSTEM, TextLLMAgent
from textworld_worlds import Episode, TextTask, make_tasks

from evaluators.agent_model import AgentModel


class TextWorldScorer(GridScorer):
    def tasks(self, case: StreamCase) -> list[TextTask]:
        return make_tasks(self.make_worlds(case), case.tasks_per_world, case.seed)

    def stream(self, case: StreamCase, model: AgentModel | None = None):
        """The case's stream, its episodes played by the case's agent."""
        llm = self.llm_plays(case, model)

        def play(task: TextTask, retrieved: dict, repeat: int):
            hints, seed = read_hints(retrieved), f"{task.key}-{repeat}"
            scripted = self.scripted_agent(task, hints, seed)
            agent = scripted if not llm else \
                TextLLMAgent(model, task.goal, task.target, retrieved, hints, seed,
                             scripted=scripted, system=self.system)
            return Episode(task, case.budget).play(agent)

        return self.alma(case, lambda task: Episode(task, case.budget).opening(), play)

    system = SYSTEM
    """What the LLM agent is told about the games."""

    @staticmethod
    def scripted_agent(task: TextTask, hints: Hints, seed: str) -> TextAgent:
        """The offline, model-free agent of an episode (and the LLM agent's reference)."""
        return TextAgent(task.target, hints, seed)

    def prepare(self, stages) -> None:
        """Every case's games, generated and compiled into the cache now (about a second each
        the first time, more for ALMA's challenge games), so that no evaluation waits for the
        compiler."""
        for stage in stages:
            for config in stage.cases:
                for task in self.tasks(self.case(config.secret)):
                    task.compiled()
