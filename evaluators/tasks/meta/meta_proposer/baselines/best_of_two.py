"""Best of two: two answers (the second sampled hotter), each scored with tools.evaluate on the
problem's cheap stage; the better one is returned (the first when neither scores)."""

import proposer_api


# EVOLVE-BLOCK-START
def propose(request, tools):
    """Two drafts, the better by the evaluate tool."""
    first = tools.model(request["messages"])
    if request["purpose"] not in ("propose", "repair") or request["budgets"]["model_calls"] < 2:
        return first
    second = tools.model(request["messages"], temperature=1.0)
    if request["budgets"]["evaluations"] < 2:
        return first
    scores = []
    for draft in (first, second):
        result = tools.evaluate(draft)
        scores.append(result["score"] if result["status"] == "ok" else float("-inf"))
    return second if scores[1] > scores[0] else first
# EVOLVE-BLOCK-END


def main(oracle):
    """The trusted side owns the loop: answer its requests until it has none."""
    return proposer_api.serve(propose, oracle)
