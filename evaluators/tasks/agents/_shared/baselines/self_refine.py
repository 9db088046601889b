"""Self-refine / reflexion (Madaan et al. 2023; Shinn et al. 2023): answer, let a critic judge the
answer, refine with its feedback, up to five rounds."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Self-Refine

    Answer, let a critic judge the answer and give feedback, and refine with the feedback
    until the critic agrees (at most five rounds).
    """
    solve_instruction = "Please think step by step and then solve the task."
    refine_instruction = ("Given the previous answer and the feedback on it, think carefully "
                          "about where it could go wrong and solve the task again.")
    critic_instruction = ("Check the answer above. Give feedback on what may be wrong and say "
                          "whether it is correct.")
    cot = LLMAgentBase(["thinking", "answer"], "Chain-of-Thought Agent")
    critic = LLMAgentBase(["feedback", "correct"], "Critic Agent")
    inputs = [taskInfo]
    thinking, answer = cot(inputs, solve_instruction, 0)
    for round_ in range(5):
        feedback, correct = critic([taskInfo, thinking, answer], critic_instruction, round_)
        if correct.content.strip().lower() == "true":
            break
        inputs += [thinking, answer, feedback]
        thinking, answer = cot(inputs, refine_instruction, round_ + 1)
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
