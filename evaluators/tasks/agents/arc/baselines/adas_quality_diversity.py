"""ARC baseline: ADAS's "Quality-Diversity" agent (the initial archive of ADAS's
`_arc/arc_prompt.py`, https://github.com/ShengranHu/ADAS, Apache-2.0). The body of `forward` is
ADAS's code unchanged; only the docstring (ADAS's name and thought) is added,
so its style is ADAS's too."""
# ruff: noqa: E501, RUF059
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Quality-Diversity

    Similar to Quality-Diversity methods, allowing the LLM to generate multiple diverse and
    interesting solutions could be beneficial.
    """
    # Instruction for initial reasoning and code generation
    cot_initial_instruction = "Please think step by step and then solve the task by writing the code."

    # Instruction for generating another interesting way to solve the task based on previous attempts
    cot_QD_instruction = "Given previous attempts, try to come up with another interesting way to solve the task by writing the code."

    # Initialize the Chain-of-Thought (CoT) agent
    cot_agent = LLMAgentBase(['thinking', 'code'], 'Chain-of-Thought Agent')

    # Instruction for final decision-making based on all solutions
    final_decision_instruction = "Given all the above thinking and answers, reason over them carefully and provide a final answer by writing the code."
    final_decision_agent = LLMAgentBase(['thinking', 'code'], 'Final Decision Agent', temperature=0.1)

    N_max = 3  # Maximum number of attempts
    qd_inputs = [taskInfo]  # Initialize inputs with the task information

    possible_answers = []

    # Generate multiple diverse solutions
    # Different from generating multiple answers through repeated questioning, we generate interestingly new solutions based on previous attempts
    for i in range(N_max):
        # Generate a solution based on the instruction (initial or QD)
        # Also control the context length.
        thinking, code = cot_agent(qd_inputs[-3:], cot_initial_instruction if i == 0 else cot_QD_instruction, i)
        # Get feedback by testing the code on examples
        feedback, correct_examples, wrong_examples = self.run_examples_and_get_feedback(code)
        # Add the solution to inputs for the next iteration
        qd_inputs.extend([thinking, code, feedback])
        # Collect all possible answers
        possible_answers.append({
            'thinking': thinking,
            'code': code,
            'feedback': feedback,
            'correct_count': len(correct_examples)
        })

    # Sort the possible answers based on the number of correct examples in descending order
    sorted_answers = sorted(possible_answers, key=lambda x: x['correct_count'], reverse=True)

    # Select the top solutions (e.g., top 2 solutions)
    top_solutions = sorted_answers[:2]

    # Prepare inputs for the final decision agent
    final_inputs = [taskInfo] + [item for solution in top_solutions for item in [solution['thinking'], solution['code'], solution['feedback']]]

    # Make the final decision based on all solutions
    thinking, code = final_decision_agent(final_inputs, final_decision_instruction)
    answer = self.get_test_output_from_code(code)
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
