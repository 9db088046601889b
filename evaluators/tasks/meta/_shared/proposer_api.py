"""The sandbox side of a proposer program (support module; standard library only).

A proposer program defines `propose(request, tools)` in its EVOLVE-BLOCK and a `main(oracle)`
that hands it to `serve`. The trusted side owns the loop: `serve` asks it for the next
proposal request, calls `propose`, and hands the answer back with the next ask, until the
trusted side says there is no more work. One request's failure (an exception, an answer that
is not text) is reported for that request only and the loop goes on, so a proposer that breaks
on one parent does not lose the others.
"""

import traceback


class Tools:
    """What a proposer may call, each answered by the trusted side over the oracle channel
    (counted and budgeted there): the campaign's meta model and the task's smoke stage."""

    def __init__(self, oracle):
        self._oracle = oracle

    def model(self, messages, temperature=None):
        """The model's answer (text) to `messages` ([{role, content}, ...])."""
        return self._oracle("model", messages, temperature)

    def evaluate(self, draft):
        """Score a draft on the task's smoke stage: `draft` is a whole program or an answer in
        the request's edit format (applied to the parent). Returns {status, score, reason}."""
        return self._oracle("evaluate", draft)


def serve(propose, oracle):
    """Answer the trusted side's requests with `propose` until it sends none; returns how many
    requests were answered."""
    tools, answer, answered = Tools(oracle), None, 0
    while True:
        request = oracle("next", answer)
        if request is None:
            return answered
        try:
            text = propose(request, tools)
            answer = {"text": text} if isinstance(text, str) else \
                {"error": f"propose returned {type(text).__name__}, not text"}
        except Exception as exc:  # this request's failure, reported for it alone
            answer = {"error": "".join(traceback.format_exception_only(exc)).strip()[-2000:]}
        answered += 1
