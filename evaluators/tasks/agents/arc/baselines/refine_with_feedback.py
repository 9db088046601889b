"""ARC baseline: write transform code, then refine it with the examples' feedback up to three
times (ADAS's self-refine, for code)."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Refine with Feedback

    Write transform(grid), run it on the training examples, and hand the failures back to the
    coder up to three times; answer with the last program's test output.
    """
    instruction = ("Think step by step about the rule that turns each input into its output, "
                   "then write Python code for it: a function transform(grid) that takes and "
                   "returns a list of lists of ints.")
    coder = LLMAgentBase(["thinking", "code"], "Code Agent", temperature=0.3)
    inputs = [taskInfo]
    thinking, code = coder(inputs, instruction, 0)
    for round_ in range(3):
        feedback, _correct, wrong = self.run_examples_and_get_feedback(code)
        if not wrong:
            break
        inputs += [thinking, code, feedback]
        thinking, code = coder(inputs, "The code fails on some examples (see the feedback). "
                               "Fix the rule and write transform(grid) again.", round_ + 1)
    return self.get_test_output_from_code(code)
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
