"""ARC baseline: ADAS's "Self-Refine (Reflexion)" agent (the initial archive of ADAS's
`_arc/arc_prompt.py`, https://github.com/ShengranHu/ADAS, Apache-2.0). The body of `forward` is
ADAS's code unchanged; only the docstring (ADAS's name and thought) is added,
so its style is ADAS's too."""
# ruff: noqa: E501, RUF005, RUF059
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Self-Refine (Reflexion)

    To enhance its performance, an LLM can iteratively improve its answer based on feedback.
    After each answer, testing on the examples to provide feedback, and the LLM uses
    insights from previous attempts and feedback to refine its answer. It is very good
    practice to use `self.run_examples_and_get_feedback` to get feedback. One should
    consider trying to use this feedback in future agent design.
    """
    # Instruction for initial reasoning and code generation
    cot_initial_instruction = "Please think step by step and then solve the task by writing the code."

    # Instruction for reflecting on previous attempts and feedback to improve
    cot_reflect_instruction = "Given previous attempts and feedback, carefully consider where you went wrong in your latest attempt. Using insights from previous attempts, try to solve the task better."

    # Instantiate a Chain-of-Thought (CoT) agent
    cot_agent = LLMAgentBase(['thinking', 'code'], 'Chain-of-Thought Agent')

    N_max = 3  # Maximum number of attempts

    # Initial attempt
    thinking, code = cot_agent([taskInfo], cot_initial_instruction, 0)

    # Iteratively refine the answer based on feedback
    for i in range(N_max):
        # Get feedback by testing the code on examples
        feedback, correct_examples, wrong_examples = self.run_examples_and_get_feedback(code)

        # Add feedback to the inputs for the next iteration
        attempt = [thinking, code, feedback]

        # Reflect on previous attempts and refine the answer
        # Only consider the latest attempts to control context length. You can try to increase the N_max.
        # The input to LLMAgentBase should be a list of Info.
        thinking, code = cot_agent([taskInfo] + attempt, cot_reflect_instruction, i + 1)

    # Get the final answer after refinement
    answer = self.get_test_output_from_code(code)
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
