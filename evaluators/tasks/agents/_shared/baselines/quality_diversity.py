"""Quality-diversity (Lu et al. 2024, in ADAS): three rounds, each asked for an answer unlike the
earlier ones, then a final agent picks from all of them."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Quality-Diversity

    Ask for a different way to solve the task in each of three rounds, then let a final
    agent pick from all of them.
    """
    cot = LLMAgentBase(["thinking", "answer"], "Chain-of-Thought Agent", temperature=0.8)
    final = LLMAgentBase(["thinking", "answer"], "Final Decision Agent", temperature=0.1)
    inputs = [taskInfo]
    thinking, answer = cot(inputs, "Please think step by step and then solve the task.", 0)
    seen = [thinking, answer]
    for round_ in range(1, 3):
        thinking, answer = cot(inputs + seen, "Given the previous attempts, try another "
                               "interesting way to solve the task.", round_)
        seen += [thinking, answer]
    thinking, answer = final([taskInfo, *seen], "Given all the above solutions, reason over "
                             "them carefully and give the final answer.")
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
