"""LLM debate (Du et al. 2023): three agents with different roles answer, read each other's
answers over two rounds, then a final agent decides."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """LLM Debate

    Three agents with different roles answer, read each other's answers for a second round,
    and a final agent decides.
    """
    debate_instruction = ("Given the solutions of the other agents, consider their opinions as "
                          "additional advice, then think carefully and give your answer.")
    roles = ["Math Professor", "Grade School Teacher", "Careful Student"]
    agents = [LLMAgentBase(["thinking", "answer"], "Debate Agent", role=role, temperature=0.8)
              for role in roles]
    final = LLMAgentBase(["thinking", "answer"], "Final Decision Agent", temperature=0.1)
    history = []
    for round_ in range(2):
        current = []
        for agent in agents:
            instruction = ("Please think step by step and then solve the task." if round_ == 0
                           else debate_instruction)
            current += agent([taskInfo, *history], instruction, round_)
        history = current
    _thinking, answer = final([taskInfo, *history], "Given all the above thinking and answers, "
                             "reason over them carefully and give the final answer.")
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
