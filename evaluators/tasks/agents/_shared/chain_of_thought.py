"""An agent design (ADAS's `forward`). The seed is chain of thought (Wei et al. 2022): one
call that thinks step by step, then answers. agent_api (trusted, next to this file) gives
`LLMAgentBase` and `Info`; every model call goes to the evaluator, which answers it with the
campaign's agent model."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401  (Info: for agents that build them)


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Chain-of-Thought

    Think step by step before answering: one call with a thinking field, then the answer.
    """
    instruction = "Please think step by step and then solve the task."
    agent = LLMAgentBase(["thinking", "answer"], "Chain-of-Thought Agent")
    _thinking, answer = agent([taskInfo], instruction)
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
