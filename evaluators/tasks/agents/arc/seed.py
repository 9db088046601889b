"""An agent design for ARC (ADAS's `forward`), whose answer is a grid. The seed is chain of
thought that writes code: the model writes `transform(grid)`, the agent checks it on the
training examples and feeds the failures back once, then returns the code's output on the test
input. `self` runs that code (agent_api.AgentSystem, ADAS's API: the tools take the code Info
or its text) in a child process with a time limit, inside the sandbox: model-written code is as
untrusted as the agent."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Chain-of-Thought Coder with One Repair

    Write transform(grid) after thinking, check it on the examples, fix it once with the
    failures as feedback, and return its output on the test input.
    """
    instruction = ("Think step by step about the rule that turns each input into its output, "
                   "then write Python code for it: a function transform(grid) that takes and "
                   "returns a list of lists of ints.")
    coder = LLMAgentBase(["thinking", "code"], "Code Agent", temperature=0.3)
    thinking, code = coder([taskInfo], instruction, 0)
    feedback, _correct, wrong = self.run_examples_and_get_feedback(code)
    if wrong:
        thinking, code = coder([taskInfo, thinking, code, feedback],
                               "The code fails on some examples (see the feedback). Fix the "
                               "rule and write transform(grid) again.", 1)
    return self.get_test_output_from_code(code)
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
