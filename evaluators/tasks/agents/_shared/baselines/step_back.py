"""Step-back abstraction (Zheng et al. 2023): first name the principles the problem involves, then
solve it with them."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Step-back Abstraction

    First name the principles the problem involves, then solve it with them in view.
    """
    principle_agent = LLMAgentBase(["thinking", "principle"], "Principle Agent")
    cot = LLMAgentBase(["thinking", "answer"], "Chain-of-Thought Agent")
    thinking, principle = principle_agent(
        [taskInfo], "What are the mathematical principles and steps this problem involves? "
        "First think step by step, then list them.")
    thinking, answer = cot([taskInfo, thinking, principle],
                           "Given the question and the principles behind it, think step by "
                           "step and then solve the task.")
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
