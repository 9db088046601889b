"""Dynamic assignment of roles (Xu et al. 2023): a routing agent chooses the expert best suited to
the question, who then answers."""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
def forward(self, taskInfo):
    """Dynamic Assignment of Roles

    A routing agent picks the expert best suited to the question, and that expert answers.
    """
    experts = {"algebra": "Algebra Expert", "counting": "Counting and Combinatorics Expert",
               "everyday": "Everyday Arithmetic Teacher"}
    router = LLMAgentBase(["choice"], "Routing Agent")
    choice = router([taskInfo], "Which expert should answer this: algebra, counting or "
                    "everyday? Answer with one word.")[0]
    role = next((r for key, r in experts.items() if key in choice.content.lower()),
                "Helpful Assistant")
    expert = LLMAgentBase(["thinking", "answer"], "Expert Agent", role=role)
    _thinking, answer = expert([taskInfo], "Please think step by step and then solve the task.")
    return answer
# EVOLVE-BLOCK-END


def solve(agent):
    return run(forward, agent)
