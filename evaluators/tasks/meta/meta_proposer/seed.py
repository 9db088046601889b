"""The seed proposer: what the campaign's built-in proposer does, as a program.

`request` is plain data: `messages` (the prompt the built-in proposer built: the task, the
parent's code and metrics, inspirations, its lineage and failures, an idea), `purpose`
(propose, repair, reflexion, analysis, debug, scratchpad), `edit_format` (diff, rewrite or
crossover: the answer's form, as the messages ask for it), `task` (the description),
`parent` ({id, code, score, metrics}, or None), `inspirations` ([{id, code, score}]),
`failures` (why its recent children failed) and `budgets`. `tools.model(messages,
temperature=None)` asks the campaign's meta model; `tools.evaluate(draft)` scores a draft (a
whole program, or an answer in the edit format) on the task's first stage and returns
{status, score, reason}. Both are counted: `budgets` says how many calls one request may make.
The answer is text in the request's edit format.
"""

import proposer_api


# EVOLVE-BLOCK-START
def propose(request, tools):
    """Ask the model with the prompt as built, once, and hand back its answer unchanged."""
    return tools.model(request["messages"])
# EVOLVE-BLOCK-END


def main(oracle):
    """The trusted side owns the loop: answer its requests until it has none."""
    return proposer_api.serve(propose, oracle)
