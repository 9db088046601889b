"""No reasoning: one call that answers at once (a floor: what chain of thought adds)."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Direct Answer

    One call that answers at once, with no reasoning: the floor that chain of thought
    improves on.
    """
    agent = LLMAgentBase(["answer"], "Direct Agent")
    return agent([taskInfo], "Solve the task.")[0]
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
