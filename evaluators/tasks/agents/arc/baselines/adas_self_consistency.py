"""ARC baseline: ADAS's "Self-Consistency with Chain-of-Thought" agent (the initial archive of
ADAS's `_arc/arc_prompt.py`, https://github.com/ShengranHu/ADAS, Apache-2.0). The body of `forward` is
ADAS's code unchanged; only the docstring (ADAS's name and thought) is added,
so its style is ADAS's too."""
# ruff: noqa: E501, RUF005
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Self-Consistency with Chain-of-Thought

    While an LLM can arrive at the correct answer, its reasoning may vary. By repeatedly
    asking the same question with high temperature settings, we can generate different
    reasoning paths. We then combine multiple answers from these Chain-of-Thought (CoT)
    agents to produce a more accurate final answer through ensembling. Note that we need to
    collect only the ones that pass the examples, preventing the context length from
    becoming too long.
    """
    # Instruction for step-by-step reasoning and code generation
    cot_instruction = "Please think step by step and then solve the task by writing the code."
    N = 5  # Number of CoT agents

    # Initialize multiple CoT agents with a higher temperature for varied reasoning
    cot_agents = [LLMAgentBase(['thinking', 'code'], 'Chain-of-Thought Agent', temperature=0.7) for _ in range(N)]

    # Instruction for final decision-making based on collected reasoning and answers
    final_decision_instruction = "Given all the above solutions, reason over them carefully and provide a final answer by writing the code."
    final_decision_agent = LLMAgentBase(['thinking', 'code'], 'Final Decision Agent', temperature=0.1)

    possible_answers = []

    # Collect reasoning and answers from each CoT agent
    for i in range(N):
        thinking, code = cot_agents[i]([taskInfo], cot_instruction)
        possible_answers.extend([thinking, code])

    # Make a final decision based on all collected reasoning and answers
    thinking, code = final_decision_agent([taskInfo] + possible_answers, final_decision_instruction)
    answer = self.get_test_output_from_code(code)

    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
