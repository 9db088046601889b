import pytest

from discovery.search.edits import EditError, apply_diff, block_text, extract_code, rewrite_block
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
