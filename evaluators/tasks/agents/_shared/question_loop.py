"""The trusted side of an agent task: the question loop's evaluator end, and the score.

The candidate's agent (agent_api.run, in the sandbox) asks for the questions, answers each, and
sends its model calls here; this oracle holds the gold answers, passes model calls to the
campaign's agent model (with the gold answer of the question the prompt is about, which only
the CI simulator reads), keeps the first answer to each question handed out (each of its
`n_repeat` runs), and the scorer turns those into accuracy with a bootstrap interval, as ADAS
reports fitness: the median and 95% interval of accuracy over the runs resampled with a fixed
seed.
"""

import functools
import json
import random
import statistics
import threading
from collections import Counter
from typing import Any

import questions
from questions import Question, correct

from evaluators.agent_model import AgentModel, checked_messages, serve
from evaluators.scoring import InvalidOutput, Metrics

ANSWER_FORMATS = {
    "exact": "Your answer: the final number or word only, nothing else.",
    "choice": "Your answer: one letter, A, B, C or D.",
    "f1": "Your answer: a short phrase or number, nothing else.",
    "grid": "Your answer: the output grid as a JSON list of lists of integers.",
}
"""What the `answer` field asks for, by the questions' metric."""
HUB = ("gsm8k", "mgsm", "drop", "mmlu")
BOOTSTRAP_SAMPLES = 1000
MAX_ANSWER = 20_000
"""Characters kept of one answer."""
MAX_FAILURE_SHOWN = 300
"""Characters of the commonest failure shown in the public metrics (and so in prompts)."""


class QuestionLoop:
    """The oracle of one case: `start`, `model`, `answer` and `fail` requests.

    With `n_repeat` above 1 every question is handed out that many times, each copy a run of
    its own id ("q3.0" ... "q3.4"; "q3" when asked once), answered and scored on its own: ADAS's
    protocol (5 runs of each ARC task), whose accuracy and interval are over all runs."""

    def __init__(self, questions: list[Question], model: AgentModel | None, *, threads: int,
                 answer_format: str, examples: dict[str, dict[str, Any]] | None = None,
                 n_repeat: int = 1):
        self.questions = {f"q{i}": q for i, q in enumerate(questions)}
        self.n_repeat = n_repeat
        self.runs = {(qid if n_repeat == 1 else f"{qid}.{k}"): qid
                     for qid in self.questions for k in range(n_repeat)}
        """Each id handed out, with the question it asks."""
        self.model, self.threads, self.answer_format = model, threads, answer_format
        self.examples = examples or {}
        """Per question id: what grid tasks hand the agent besides the text (training pairs
        and the test input; never the test output)."""
        self.concurrency = max(2, 2 * threads)
        """Calls served at once (sandbox.Oracle): model calls and answers of every thread."""
        self.answers: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        """Per run id handed out: its first answer, or the reason it failed."""
        self.started = False
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> Any:
        """One request of the candidate's agent: `["start"]` once; `["model", messages,
        temperature?, json_mode?]`; `["answer" | "fail", run id, text]`, where the id
        is one handed out and the text a string (kept to MAX_ANSWER characters). Anything
        else is refused with a ValueError, which the sandbox hands back to the candidate."""
        if not isinstance(request, list) or not request or not isinstance(request[0], str):
            raise ValueError("a request is [kind, arguments...]")
        kind, args = request[0], request[1:]
        if kind == "start":
            return self._start()
        if kind == "model" and 1 <= len(args) <= 3:
            messages, temperature, json_mode = (*args, None, False)[:3]
            # checked before the search for its question: at most MAX_CHARS to search
            return serve(self.model, messages, temperature,
                         self._reference(checked_messages(messages)), json_mode)
        if kind in ("answer", "fail") and len(args) == 2 and isinstance(args[1], str):
            self._settle(kind, args[0], args[1][:MAX_ANSWER])
            return None
        raise ValueError(f"unknown request {kind!r} (or wrong arguments)")

    def _start(self) -> dict[str, Any]:
        with self.lock:
            if self.started:
                raise ValueError("the questions were handed out already")
            self.started = True
        return {"threads": self.threads, "context": {"answer_format": self.answer_format},
                "questions": [{"id": run, "text": self.questions[qid].text,
                               **self.examples.get(qid, {})} for run, qid in self.runs.items()]}

    def _settle(self, kind: str, run: Any, text: str) -> None:
        """Keep the first answer or failure given for a run handed out."""
        if not (isinstance(run, str) and run in self.runs):
            raise ValueError(f"no question {run!r} was handed out")
        with self.lock:  # the first word on a run counts
            if run not in self.answers and run not in self.failures:
                (self.answers if kind == "answer" else self.failures)[run] = text

    def _reference(self, messages: list[dict[str, str]]) -> str | None:
        """The gold answer of the question the prompt is about (its text appears in it).
        `messages` passed agent_model.checked_messages: at most MAX_CHARS of text, so the
        search costs at most that per question, whatever the candidate sent."""
        text = "\n".join(m["content"] for m in messages)
        return next((q.answer for q in self.questions.values() if q.text in text), None)

    def correctness(self) -> list[float]:
        """Per run, the score of its first answer (0 if none): one value per run, each in
        [0, 1], whatever the answer's text. Checked here, because the score is their mean: a
        run that scored outside [0, 1] is the answer's fault (InvalidOutput)."""
        values = [correct(self.questions[qid], self.answers[run]) if run in self.answers
                  else 0.0 for run, qid in self.runs.items()]
        for run, value in zip(self.runs, values, strict=True):
            if not 0.0 <= value <= 1.0:
                raise InvalidOutput(f"the answer to question {run} scored {value!r}, outside "
                                    "[0, 1]")
        return values


@functools.lru_cache(maxsize=16)
def _load(secret_json: str) -> tuple[Question, ...]:
    secret = json.loads(secret_json)
    dataset = secret.get("dataset")
    if dataset == "arithmetic":
        return tuple(questions.arithmetic(secret["seed"], secret["count"]))
    if dataset == "multiple_choice":
        return tuple(questions.multiple_choice(secret["seed"], secret["count"]))
    if dataset == "arc":
        return tuple(questions.arc(secret["split"])[:secret.get("count")])
    if dataset == "gsm8k_adas":
        return tuple(questions.gsm8k_adas(secret["split"], secret.get("local_file"))[
            :secret.get("count")])
    if dataset in HUB:
        return tuple(questions.hub(dataset, split=secret["split"], count=secret["count"],
                                   seed=secret.get("seed", 0),
                                   local_file=secret.get("local_file")))
    raise ValueError(f"unknown dataset {dataset!r} in a case's secret: use one of arithmetic, "
                     f"multiple_choice, arc, gsm8k_adas, {', '.join(HUB)}")


def load(secret: dict[str, Any]) -> list[Question]:
    """A case's questions, from its secret (`dataset` and its keys); cached per process."""
    try:
        return list(_load(json.dumps(secret, sort_keys=True)))
    except KeyError as exc:
        raise ValueError(f"a case of dataset {secret.get('dataset')!r} needs the secret key "
                         f"{exc.args[0]!r}") from None


def n_repeat(secret: dict[str, Any]) -> int:
    """How many times each question of a case is asked (secret `n_repeat`, default 1)."""
    value = secret.get("n_repeat", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"a case's n_repeat must be a whole number of at least 1, not "
                         f"{value!r}: set it in task.toml (`[secret] n_repeat = 5`)")
    return value


def prepare(stages) -> None:
    """Load every case's questions now: a bad dataset, a missing file or a bad n_repeat is a
    clear error before a campaign starts."""
    for stage in stages:
        for case in stage.cases:
            load(case.secret)
            n_repeat(case.secret)


def oracle(stage, case) -> QuestionLoop:
    chosen = load(case.secret)
    examples = {f"q{i}": dict(zip(("examples", "test_input"), questions.arc_examples(q.id),
                                  strict=True))
                for i, q in enumerate(chosen) if q.metric == "grid"}
    return QuestionLoop(chosen, case.model, threads=case.secret.get("threads", 16),
                        answer_format=ANSWER_FORMATS[chosen[0].metric], examples=examples,
                        n_repeat=n_repeat(case.secret))


def bootstrap(values: list[float], seed: int = 0) -> tuple[float, float, float]:
    """(median, 2.5th, 97.5th percentile) of the mean over resamples of `values`."""
    rng = random.Random(seed)
    n = len(values)
    means = sorted(statistics.fmean(rng.choices(values, k=n)) for _ in range(BOOTSTRAP_SAMPLES))
    return (statistics.median(means), means[int(0.025 * BOOTSTRAP_SAMPLES)],
            means[int(0.975 * BOOTSTRAP_SAMPLES) - 1])


def score(stage, case, outputs: Any, loop: QuestionLoop) -> Metrics:
    """Accuracy as ADAS shows it: the bootstrap median over every run (n_repeat per question,
    resampled as independent values, as ADAS did) is the score; the interval, the counts
    (`answered` and `failed` count runs) and the commonest failure (its first
    MAX_FAILURE_SHOWN characters) are public (the model reads them in later prompts).
    Invariants, checked: the questions were handed out, the program returned what
    agent_api.run returns (a dict), and every run scored in [0, 1] (correctness), so the score
    is a mean of values in [0, 1]."""
    if not loop.started:
        raise InvalidOutput("the program never asked for the questions (agent_api.run)")
    if not isinstance(outputs, dict):
        raise InvalidOutput("the program must return what agent_api.run returns")
    values = loop.correctness()
    median, low, high = bootstrap(values)
    public: dict[str, Any] = {
        "accuracy": round(statistics.fmean(values), 4), "ci_low": round(low, 4),
        "ci_high": round(high, 4), "questions": len(loop.questions),
        "n_repeat": loop.n_repeat, "answered": len(loop.answers),
        "failed": len(loop.failures)}
    if loop.failures:
        reason, count = Counter(loop.failures.values()).most_common(1)[0]
        shown = reason if len(reason) <= MAX_FAILURE_SHOWN else reason[:MAX_FAILURE_SHOWN] + "..."
        public["commonest_failure"] = f"{shown} ({count}x)"
    refused = getattr(loop.model, "refused", None)
    if refused:
        public["model_refused"] = refused
    cut = getattr(loop.model, "transcript_cut", None)  # for reports: prompts past a cap unsaved
    return Metrics(round(median, 4), public, {"transcript_cut": cut} if cut else {})
