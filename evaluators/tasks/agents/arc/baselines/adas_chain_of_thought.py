"""ARC baseline: ADAS's "Chain-of-Thought" agent (the initial archive of ADAS's
`_arc/arc_prompt.py`, https://github.com/ShengranHu/ADAS, Apache-2.0). The body of `forward` is
ADAS's code unchanged; only the docstring (ADAS's name and thought) is added,
so its style is ADAS's too."""
# ruff: noqa: RUF059
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Chain-of-Thought

    Directly formatting the output can be challenging. A good practice is to allow the LLM
    to write the transformation code and then evaluate it to generate the output. This
    ensures that the output is derived from executable code, improving reliability.
    """
    # Instruction for the Chain-of-Thought (CoT) approach with code generation
    cot_instruction = "Please think step by step and then solve the task by writing the code."

    # Instantiate a new LLM agent specifically for CoT with code output
    # To allow LLM thinking before answering, we need to set an additional output field 'thinking'.
    cot_agent = LLMAgentBase(['thinking', 'code'], 'Chain-of-Thought Agent')

    # Get the CoT agent's response, which includes both thinking steps and code
    thinking, code = cot_agent([taskInfo], cot_instruction)

    # Evaluate the generated code to get the output
    answer = self.get_test_output_from_code(code)

    # Return the final output derived from the code execution
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
