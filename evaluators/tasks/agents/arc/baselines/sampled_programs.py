"""ARC baseline: several programs sampled at a higher temperature, the one that fits the most
training examples answers (ADAS's self-consistency, for code)."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Sampled Programs, Best Fit

    Sample five transform programs after thinking, run each on the training examples and
    answer with the test output of the one that gets the most examples right.
    """
    instruction = ("Think step by step about the rule that turns each input into its output, "
                   "then write Python code for it: a function transform(grid) that takes and "
                   "returns a list of lists of ints.")
    coder = LLMAgentBase(["thinking", "code"], "Code Agent", temperature=0.8)
    best_code, best_fit = None, -1
    for _ in range(5):
        _thinking, code = coder([taskInfo], instruction)
        _feedback, correct, wrong = self.run_examples_and_get_feedback(code)
        if len(correct) > best_fit:
            best_code, best_fit = code, len(correct)
        if not wrong:
            break
    return self.get_test_output_from_code(best_code)
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
