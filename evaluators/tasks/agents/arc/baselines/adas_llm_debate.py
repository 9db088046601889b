"""ARC baseline: ADAS's "LLM Debate" agent (the initial archive of ADAS's
`_arc/arc_prompt.py`, https://github.com/ShengranHu/ADAS, Apache-2.0). The body of `forward` is
ADAS's code unchanged; only the docstring (ADAS's name and thought) is added,
so its style is ADAS's too."""
# ruff: noqa: E501
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """LLM Debate

    By letting different LLMs debate with each other, we can leverage their diverse
    perspectives to find better solutions for tasks.
    """
    # Instruction for initial reasoning and code generation
    debate_initial_instruction = "Please think step by step and then solve the task by writing the code."

    # Instruction for debating and updating the solution based on other agents' solutions
    debate_instruction = "Given solutions to the problem from other agents, consider their opinions as additional advice. Please think carefully and provide an updated answer by writing the code."

    # Initialize debate agents with different roles and a moderate temperature for varied reasoning
    debate_agents = [LLMAgentBase(['thinking', 'code'], 'Debate Agent', temperature=0.6, role=role) for role in ['Puzzle Game Designer', 'Expert Logician']]

    # Instruction for final decision-making based on all debates and solutions
    final_decision_instruction = "Given all the above thinking and answers, reason over them carefully and provide a final answer by writing the code."
    final_decision_agent = LLMAgentBase(['thinking', 'code'], 'Final Decision Agent', temperature=0.1)

    max_round = 2  # Maximum number of debate rounds
    all_results = [[] for _ in range(max_round)]

    # Perform debate rounds
    for r in range(max_round):
        for i in range(len(debate_agents)):
            if r == 0:
                thinking, code = debate_agents[i]([taskInfo], debate_initial_instruction)
                answer = self.get_test_output_from_code(code)
            else:
                input_infos = [taskInfo] + all_results[r-1]
                thinking, code = debate_agents[i](input_infos, debate_instruction)
                answer = self.get_test_output_from_code(code)
            all_results[r].extend([thinking, answer])

    # Make the final decision based on all debate results and solutions
    thinking, code = final_decision_agent([taskInfo] + all_results[max_round-1], final_decision_instruction)
    answer = self.get_test_output_from_code(code)
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
