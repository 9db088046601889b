"""The trusted end of a peer task: turns what the peer's evaluator returned inside the sandbox
(plain data, from evaluators/peers/driver.py) into our Metrics. It cannot check the score: the
evaluator computed it in the candidate's process, so this only checks the shape of the answer,
that the score is a finite number, and labels every score with the weaker trust it carries.

The mapping, following each peer's own rules:
- the score is `combined_score`; without one, OpenEvolve's fallback, the mean of the numeric
  metrics (ShinkaEvolve has none: a Shinka evaluator without it is invalid);
- ShinkaEvolve's `correct: false` makes the program invalid, its `error` the reason;
- numeric metrics are public (Shinka's `public` table too), Shinka's `private` table private;
- text (OpenEvolve's artifacts and `error`, Shinka's `text_feedback` and text public metrics)
  becomes public text metrics, which the debug and repair prompts show the model."""

import math
from typing import Any

from evaluators.scoring import InvalidOutput, Metrics, finite_number

TEXT_LIMIT = 2000
"""Characters kept of one text metric (an artifact with a full traceback is long)."""

METRICS_LIMIT = 200
"""Metrics one table may hold: the answer comes from the candidate's process, and the archive
stores every metric of every program."""

TRUST = "peer evaluator: it ran in the candidate's process, which could change its score"
"""The private metric `evaluator_trust` of every peer score, so that reports say so."""


def score(stage: str, case: Any, outputs: Any, oracle: Any) -> Metrics:
    return peer_metrics(outputs, TRUST)


def peer_metrics(outputs: Any, trust: str) -> Metrics:
    """The evaluator's answer (see driver.call_evaluator) as Metrics, labelled `trust`."""
    if not isinstance(outputs, dict) or not isinstance(outputs.get("metrics"), dict):
        raise InvalidOutput("the peer evaluator returned no metrics (a dict with "
                            "combined_score; ShinkaEvolve: metrics.json in results_dir)")
    metrics = outputs["metrics"]
    if outputs.get("correct") is False:
        raise InvalidOutput(f"incorrect: {outputs.get('error') or 'the evaluator said so'}"
                            [:TEXT_LIMIT])
    public: dict[str, Any] = {}
    private: dict[str, Any] = {"evaluator_trust": trust}
    _add(public, {k: v for k, v in metrics.items() if k not in ("public", "private")})
    _add(public, metrics.get("public") if isinstance(metrics.get("public"), dict) else {})
    _add(private, metrics.get("private") if isinstance(metrics.get("private"), dict) else {})
    _add(public, {f"artifact_{k}": v for k, v in (outputs.get("artifacts") or {}).items()})
    if "combined_score" in metrics:
        value = finite_number(metrics["combined_score"], "the evaluator's combined_score")
    elif outputs.get("correct") is None:
        numbers = [v for v in public.values() if isinstance(v, float)]
        if not numbers:
            raise InvalidOutput("the evaluator returned no combined_score and no numeric "
                                "metric to average")
        value = sum(numbers) / len(numbers)
    else:
        raise InvalidOutput("metrics.json has no combined_score")
    return Metrics(value, public, private)


def _add(into: dict[str, Any], values: dict[str, Any]) -> None:
    """Finite numbers (bools as 0/1) and text (cut to TEXT_LIMIT) of `values`; lists, tables
    and non-finite numbers are left out (a metric is one number or one text)."""
    if len(into) + len(values) > METRICS_LIMIT:
        raise InvalidOutput(f"the evaluator returned over {METRICS_LIMIT} metrics in one table")
    for key, value in values.items():
        if isinstance(value, bool | int | float) and math.isfinite(value):
            into[str(key)] = float(value)
        elif isinstance(value, str) and value:
            into[str(key)] = value[:TEXT_LIMIT]
