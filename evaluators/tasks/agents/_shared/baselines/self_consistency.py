"""Self-consistency (Wang et al. 2023): five chain-of-thought samples at a higher temperature,
then the most common answer."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Self-Consistency with Chain-of-Thought

    Sample five reasoning paths at a higher temperature and return the most common answer:
    errors scatter, right answers agree.
    """
    from collections import Counter

    instruction = "Please think step by step and then solve the task."
    agents = [LLMAgentBase(["thinking", "answer"], "Chain-of-Thought Agent", temperature=0.8)
              for _ in range(5)]
    answers = [agent([taskInfo], instruction)[1] for agent in agents]
    votes = Counter(a.content.strip() for a in answers)
    best = votes.most_common(1)[0][0]
    return next(a for a in answers if a.content.strip() == best)
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
