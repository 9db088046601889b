import random

import pytest

from discovery.search.edits import (
    EditError,
    apply_diff,
    block_text,
    extract_code,
    plan_continuation,
    rewrite_block,
    splice,
)
from evaluators.task import load_task

SEED = load_task("circle_packing").seed_code


def test_rewrite_keeps_markers_and_the_rest_of_the_program():
    answer = ("Here you go:\n```python\ndef construct_packing(n):\n"
              "    return [[0.5, 0.5]] * n, [0.0] * n\n```\nHope it helps.")
    new = rewrite_block(SEED, answer)
    assert new.count("# EVOLVE-BLOCK-START") == 1 and new.count("# EVOLVE-BLOCK-END") == 1
    assert new.startswith('"""Circle packing') and "import math" in new
    assert block_text(new) == "def construct_packing(n):\n    return [[0.5, 0.5]] * n, [0.0] * n"


def test_an_echoed_whole_program_contributes_only_its_block():
    answer = "```python\n" + SEED.replace("shift = 0.5", "shift = 0.4") + "```"
    new = rewrite_block(SEED, answer)
    assert new.count("import math") == 1 and "shift = 0.4" in new


@pytest.mark.parametrize(("answer", "reason"), [
    ("I would use a hexagonal lattice.", "no ```python code block"),
    ("```python\ndef construct_packing(n:\n```", "syntax error at line"),
    ("```python\n" + block_text(SEED) + "\n```", "identical to the old"),
])
def test_unusable_answers_say_why(answer, reason):
    with pytest.raises(EditError, match=reason):
        rewrite_block(SEED, answer)


def test_damaged_markers_are_refused():
    with pytest.raises(EditError, match="exactly one"):
        rewrite_block(SEED.replace("# EVOLVE-BLOCK-END", ""), "```python\nx = 1\n```")


def test_longest_block_wins_and_bare_code_counts():
    assert extract_code("```\nx = 1\n```\n```python\ny = 2\nz = 3\n```") == "y = 2\nz = 3"
    assert extract_code("x = 1\n") == "x = 1"


def test_rewrite_prompt_template_fills_in():
    from prompts import render

    text = render("rewrite/user.md", task="Pack circles.", block="x = 1", score="1",
                  context="", instruction="Make it faster.")
    assert "Pack circles." in text and "```python\nx = 1\n```" in text and "$" not in text
    with pytest.raises(KeyError, match="instruction"):
        render("rewrite/user.md", task="t", block="b", score="1", context="")


def diff(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


def test_diff_applies_inside_the_block_only():
    first = diff("    aspect = 1.0", "    aspect = 1.1")
    second = diff("    rows = math.ceil(n / columns)", "    rows = -(-n // columns)")
    new = apply_diff(SEED, f"Sure:\n{first}\n{second}")
    assert "aspect = 1.1" in new and "-(-n // columns)" in new and "import math" in new
    assert new.count("# EVOLVE-BLOCK-END") == 1


@pytest.mark.parametrize(("answer", "reason"), [
    ("no edits here", "no <<<<<<< SEARCH"),
    (diff("    nothing like this", "x = 1"), "matches 0 times"),
    (diff("import math", "import os"), "matches 0 times"),  # outside the block
    (diff("columns", "cols"), "matches 5 times"),
    (diff("    centers = []", "# EVOLVE-BLOCK-END"), "contains an EVOLVE-BLOCK marker"),
    (diff("    centers = []", "    centers = []"), "identical"),
])
def test_diff_failures_say_why(answer, reason):
    with pytest.raises(EditError, match=reason):
        apply_diff(SEED, answer)


def test_an_unclosed_code_block_counts_if_it_is_whole_and_says_so_if_cut_off():
    """A block with no closing fence: whole, it counts; cut inside its only statement, the
    reason says so; cut after whole statements, those count."""
    assert extract_code("```python\ndef f(n):\n    return n\n") == "def f(n):\n    return n"
    cut = "```python\ndef construct_packing(n):\n    return (\n        (1, 1),\n        (1, 1),"
    with pytest.raises(EditError, match=r"never closed.*cut off"):
        extract_code(cut)
    # a whole function, then a second one cut off (a small model rambling to its token limit):
    # the whole one counts, the cut one is dropped
    rambling = ("```python\ndef drift(ratio, adv):\n    return ratio * adv\n\n\n"
                "def final_return(x):\n    \"\"\"How much the final return of the final return "
                "of the final")
    assert extract_code(rambling) == "def drift(ratio, adv):\n    return ratio * adv"


TWO = '''import math

# EVOLVE-BLOCK-START
def helper(x):
    """Scale."""
    y = x * 2
    return y


def solve(n):
    """Solve it.

    Long docstring."""
    total = 0
    for i in range(n):
        total += helper(i)
    return total
# EVOLVE-BLOCK-END
'''


def test_a_continuation_starts_after_the_docstring_and_fits_the_budget():
    cuts = set()
    for seed in range(40):
        continuation = plan_continuation(TWO, random.Random(seed), 10_000)
        start = continuation.start.removeprefix("```python\n")
        assert start.startswith(f"def {continuation.function}(")
        cuts.add((continuation.function, start.split("\n")[-1].strip()))
    # the earlier half of the statements after the docstring, nested ones included
    assert cuts == {("helper", '"""Scale."""'), ("solve", 'Long docstring."""'),
                    ("solve", "total = 0")}
    # a tight budget leaves only the cuts whose rest of the function fits it (or the last)
    for seed in range(20):
        tight = plan_continuation(TWO, random.Random(seed), len("    return total"), "solve")
        assert tight.start.endswith("total += helper(i)")


def test_splice_puts_back_one_function_and_drops_what_follows_it():
    continuation = plan_continuation(TWO, random.Random(0), len("    return total"), "solve")
    new = splice(TWO, continuation, "\n    return n * 3\n\n\ndef extra():\n    pass\n")
    block = block_text(new)
    assert "def helper(x):\n" in block and "def extra" not in block
    assert block.endswith("total += helper(i)\n    return n * 3")
    assert new.startswith("import math\n") and new.endswith("# EVOLVE-BLOCK-END\n")
    helper = plan_continuation(TWO, random.Random(0), 10_000, "helper")
    new = splice(TWO, helper, "\n    return x + 1\n```\nThis adds one.")
    assert '"""Scale."""\n    return x + 1\n\n\ndef solve(n):' in new
    assert "This adds one" not in new


@pytest.mark.parametrize(("answer", "reason"), [
    ("", "continues nothing"),
    ("\n    return (\n        1,", "syntax error"),  # cut off at the token cap
])
def test_a_continuation_that_cannot_be_used_says_why(answer, reason):
    continuation = plan_continuation(SEED, random.Random(0), 10_000)
    with pytest.raises(EditError, match=reason):
        splice(SEED, continuation, answer)


def test_the_parents_own_rest_is_identical_and_a_block_without_functions_has_no_cut():
    continuation = plan_continuation(SEED, random.Random(3), 10_000)
    rest = block_text(SEED).splitlines()[len(continuation.head):]
    with pytest.raises(EditError, match="identical"):
        splice(SEED, continuation, "\n" + "\n".join(rest))
    assert plan_continuation("# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n",
                             random.Random(0), 100) is None


class Continuing:
    """Stands in for the embedded model (its name is what the proposer looks at): continues
    the answer's start with the rest of the parent's function, its radii scaled down (by a
    factor of the call's seed: no two answers alike)."""

    def __init__(self, spec):
        self.spec, self.asked = spec, []

    def complete(self, messages, *, purpose="propose", seed=None, temperature=None,
                 reference=None, json_mode=False):
        from archive.records import ModelCall
        from discovery.models.base import Completion

        self.asked.append(messages)
        text = "ok"
        if messages[-1]["role"] == "assistant":
            block = messages[1]["content"].split("```python\n")[1].split("```")[0]
            lines = block.splitlines()
            rest = lines[lines.index(messages[-1]["content"].splitlines()[-1]) + 1:]
            text = "\n" + "\n".join(rest).replace(
                "fit_radii(centers)", f"[r * {1 - seed / 1000} for r in fit_radii(centers)]")
        return Completion("embedded", text, 1, 1, 0.0, 0.0,
                          (ModelCall("embedded", purpose, 1, 1, raw_response=text),))


def test_the_embedded_model_is_asked_to_continue_a_function_and_its_answer_lands(
        tmp_path, monkeypatch):
    from helpers import run_scripted

    from archive import ArchiveReader

    model = Continuing(None)

    def make_client(spec):
        model.spec = spec
        return model

    monkeypatch.setattr("discovery.loop.campaign.make_client", make_client)
    run_scripted(tmp_path, "c", 4, 'models=[{name="embedded"}]', "executor='fresh'",
                 "transcript=false")
    proposals = [m for m in model.asked if m[-1]["role"] == "assistant"]
    assert proposals and all(m[-1]["content"].startswith("```python\ndef construct_packing(n):")
                             for m in proposals)
    assert "Reply with the new code of the function `construct_packing`" in \
        proposals[0][1]["content"]
    with ArchiveReader(tmp_path / "c" / "archive.sqlite") as reader:
        events = [d for _, _, d in reader.events("iteration", limit=100) if d["op"] == "llm"]
        made = reader.programs([d["program"] for d in events if d["program"]])
    assert events and len(made) == len(events)  # every proposal became a program
    assert all("for r in fit_radii(centers)]" in p.code for p in made)
