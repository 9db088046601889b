"""ADAS as its authors ran it: its published agents run unchanged through `discover eval`, its
API (feedback, code tools, LLMAgentBase's arguments), its protocol (n_repeat) and its GSM8K
sample. The agent model is the simulator (a test double): these tests check that agents run and
what the trusted side records, not what any real model scores."""

import gzip
import json
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from discovery.models import agent_models
from discovery.models.agent import AgentModelConfig
from evaluators.task import TASKS_DIR, Case, load_task
from tests.helpers import discover

sys.path.insert(0, str(TASKS_DIR / "agents" / "_shared"))
import adas_archive
import agent_api
import question_loop
import questions
from agent_api import Info

ADAS = Path(__file__).parents[2] / "data" / "adas"
ARC_ARCHIVE = ADAS / "arc_gpt3.5_results.json"
MGSM_ARCHIVE = ADAS / "mgsm_gpt3.5_results.json"


# --- ADAS's published archives, unchanged, through `discover eval` ------------------------------

def small_task(tmp_path: Path, base: str, secret: str) -> Path:
    """A task folder that `extends` the shipped task `base` with one validation case of two
    questions asked once: `secret`'s keys (TOML inline-table items) pick them."""
    root = tmp_path / f"{base}_two"
    root.mkdir()
    (root / "task.toml").write_text(
        f'extends = "{load_task(base).root / "task.toml"}"\nname = "{base}_two"\n'
        "[secret]\nn_repeat = 1\n[[stages]]\nname = \"validation\"\n"
        f'cases = [{{ name = "v", secret = {{ {secret}, count = 2, threads = 2 }} }}]\n')
    return root


def run_archive(tmp_path: Path, archive: Path, task: Path, indices: range | None = None):
    """Each agent of an ADAS archive (or those at `indices`) as a candidate program, all scored
    by one `discover eval --json` with the simulated agent model: {agent name: final result}."""
    entries = json.loads(archive.read_text())
    chosen = [entries[i] for i in indices] if indices is not None else entries
    subset = tmp_path / archive.name
    subset.write_text(json.dumps(chosen))
    programs = adas_archive.write_candidates(subset, tmp_path / f"{archive.stem}_programs")
    result = discover(tmp_path, "eval", str(task), *map(str, programs), "--agent-model",
                      "simulator", "--executor", "warm", "--json")
    reports = json.loads(result.output[result.output.index("["):])
    return {entry["name"]: report["results"][-1]
            for entry, report in zip(chosen, reports, strict=True)}


def assert_every_agent_answers(results: dict) -> None:
    for name, result in results.items():
        metrics = result["public_metrics"]
        assert result["status"] == "ok", (name, result["reason"])
        assert metrics["answered"] + metrics["failed"] == metrics["questions"] == 2, name
        assert metrics["failed"] == 0, (name, metrics.get("commonest_failure"))


def test_adas_initial_agents_run_unchanged_on_arc_and_gsm8k(tmp_path):
    """ADAS's hand-written agents as its archives publish them: the five of ARC (CoT passes
    its code Info to get_test_output_from_code, Self-Refine unpacks three values from
    run_examples_and_get_feedback) and the seven of MGSM on ADAS's GSM8K sample."""
    arc = run_archive(tmp_path, ARC_ARCHIVE, small_task(
        tmp_path, "arc", 'dataset = "arc", split = "validation"'), range(5))
    assert list(arc) == ["Chain-of-Thought", "Self-Refine", "LLM Debate", "COT-SC",
                         "Quality-Diversity"]
    assert_every_agent_answers(arc)
    mgsm = run_archive(tmp_path, MGSM_ARCHIVE, small_task(
        tmp_path, "gsm8k", 'dataset = "gsm8k_adas", split = "validation"'), range(7))
    assert len(mgsm) == 7 and "LLM Debate" in mgsm
    assert_every_agent_answers(mgsm)


@pytest.mark.slow
def test_every_agent_of_adas_published_archives_runs_unchanged(tmp_path):
    """All 27 agents of ADAS's ARC archive and all 36 of its MGSM archive (about 40 s)."""
    arc = run_archive(tmp_path, ARC_ARCHIVE, small_task(
        tmp_path, "arc", 'dataset = "arc", split = "validation"'))
    mgsm = run_archive(tmp_path, MGSM_ARCHIVE, small_task(
        tmp_path, "gsm8k", 'dataset = "gsm8k_adas", split = "validation"'))
    assert len(arc) == 27 and len(mgsm) == 36
    assert_every_agent_answers(arc)
    assert_every_agent_answers(mgsm)


def test_an_archive_entry_that_is_not_an_agent_is_one_clear_error(tmp_path):
    archive = tmp_path / "broken.json"
    archive.write_text(json.dumps([{"name": "Two", "code": "def a():\n    pass\ndef b():\n"
                                    "    pass\n"}]))
    assert adas_archive.main([str(archive), str(tmp_path / "out")]) == 1
    with pytest.raises(adas_archive.ArchiveError, match="defines 2 functions"):
        adas_archive.write_candidates(archive, tmp_path / "out")


# --- ADAS's API ---------------------------------------------------------------------------------

EXAMPLES = [{"input": [[1]], "output": [[2]]}, {"input": [[3]], "output": [[3]]},
            {"input": [[0]], "output": [[0]]}]
CODE = ("```python\ndef helper(value):\n    if value == 0:\n        raise ValueError('zero')\n"
        "    return value + 1\n\ndef transform(grid):\n    return [[helper(grid[0][0])]]\n```")


def grid_system() -> agent_api.AgentSystem:
    return agent_api.AgentSystem({"id": "q0", "text": "t", "examples": EXAMPLES,
                                  "test_input": [[5]]})


def test_feedback_is_adas_three_values_with_examples_numbered_from_zero():
    system = grid_system()
    assert system.examples == EXAMPLES and system.test_input == system.test_iuput == [[5]]
    feedback, right, wrong = system.run_examples_and_get_feedback(
        Info("code", "Coder Ab12", CODE, 0))  # an Info, fenced, with a helper function
    assert right == EXAMPLES[:1] and wrong == EXAMPLES[1:]
    assert feedback.name == "feedback" and feedback.author == "Coder Ab12's code evaluator"
    text = feedback.content
    assert "CORRECT answer in Example 0!" in text and "WRONG answer in Example 1!" in text
    assert "You got: [[4]]" in text and "Example 2" in text and "ValueError: zero" in text
    as_text = system.run_examples_and_get_feedback(CODE)  # its text works the same
    assert as_text[0].author == "code evaluator" and as_text[1:] == (right, wrong)
    answer = system.get_test_output_from_code(Info("code", "Coder Ab12", CODE, 0))
    assert answer == Info("answer", "Coder Ab12's code evaluator", "[[6]]", -1)
    assert not system.code_errors


@pytest.mark.parametrize(("code", "feedback", "output"), [
    ("def transform(grid) return", "Error during code execution: SyntaxError",
     "Error during code execution: SyntaxError"),
    ("x = 1", "Function 'transform' not found in the code.",
     "Function 'transform' not found in the code."),
    ("def transform(grid):\n    return undefined", "an error: NameError",
     "Error during function execution: NameError"),
])
def test_code_that_fails_is_feedback_and_an_error_output_never_an_answer(code, feedback,
                                                                         output):
    system = grid_system()
    shown, right, _wrong = system.run_examples_and_get_feedback(code)
    assert feedback in shown.content and right == []
    answer = system.get_test_output_from_code(code)
    assert answer.content.startswith(output) and answer.content in system.code_errors


def test_llm_agent_base_takes_adas_arguments_and_marks_its_own_work(monkeypatch):
    seen = []

    def channel(kind, messages, temperature, json_mode):
        seen.append((messages, temperature))
        return json.dumps({"thinking": "add", "answer": 7})

    monkeypatch.setattr(agent_api, "_channel", channel)
    agent = agent_api.LLMAgentBase(["thinking", "answer"], "Solver", "math teacher",
                                   "gpt-3.5-turbo-0125", 0.2)  # ADAS's positional order
    assert (agent.role, agent.model, agent.temperature) == ("math teacher",
                                                           "gpt-3.5-turbo-0125", 0.2)
    task = Info("task", "User", "What is 3 + 4?", -1)
    thinking, answer = agent([task, "not an Info", Info("answer", repr(agent), "6", 0)], "Solve.")
    assert (thinking.content, answer.content) == ("add", "7") and answer.author == repr(agent)
    (system, user), temperature = seen[0][0], seen[0][1]
    assert temperature == 0.2 and system["content"].startswith("You are a math teacher.")
    assert user["content"].startswith("# Your Task:\nWhat is 3 + 4?")
    assert f"### answer #1 by {agent!r} (yourself):\n6" in user["content"]
    assert "not an Info" not in user["content"]  # skipped, as ADAS skips it


def in_process(secret: dict, forward, model=True):
    """The trusted question loop of a case and `agent_api.run(forward)` talking to it directly
    (no sandbox): the loop, the program's outputs and the scorer's metrics."""
    case = Case("c", {}, {"threads": 2, **secret},
                agent_models(AgentModelConfig(name="simulator")).for_evaluation([])
                if model else None)
    loop = question_loop.oracle(None, case)
    outputs = agent_api.run(forward, lambda *request: loop(list(request)))
    return loop, outputs, question_loop.score(None, case, outputs, loop)


def test_an_answer_that_is_the_codes_error_fails_its_question_with_the_reason():
    """ADAS scored such an answer 0 without a word; here the run fails and says why, whether
    the forward returns the Info or its text."""
    def forward(self, taskInfo):
        output = self.get_test_output_from_code("def transform(grid):\n    return nope")
        return output if self.question["id"] == "q0" else output.content

    loop, outputs, metrics = in_process({"dataset": "arc", "split": "validation", "count": 2},
                                        forward, model=False)
    assert outputs == {"failed": 2} and not loop.answers
    assert metrics.score == 0 and metrics.public["failed"] == 2
    assert metrics.public["commonest_failure"].startswith(
        "AgentError: the answer is the error of the agent's code on the test input: Error "
        "during function execution: NameError: name 'nope' is not defined")


def test_agent_ids_are_adas_like_and_the_same_when_an_evaluation_runs_again():
    """Two agents of one forward get two ids, each repeat of a question others (as ADAS's
    random ids), and running the evaluation again gives the same ones: prompts do not depend on
    the threads' timing, so neither do the simulator's answers."""
    def forward(self, taskInfo):
        first, second = (agent_api.LLMAgentBase(["answer"], "A") for _ in range(2))
        return f"{first.id} {second.id}"

    secret = {"dataset": "arithmetic", "seed": 1, "count": 2, "n_repeat": 2}
    loop, _, _ = in_process(secret, forward)
    ids = {run: tuple(text.split()) for run, text in loop.answers.items()}
    assert set(ids) == {"q0.0", "q0.1", "q1.0", "q1.1"} and len(set(ids.values())) == 4
    assert all(len(pair) == 2 and pair[0] != pair[1] and len(pair[0]) == 4
               for pair in ids.values())
    assert in_process(secret, forward)[0].answers == loop.answers


def test_repeats_score_the_same_when_an_evaluation_runs_again():
    """ADAS's self-consistency on ARC, three repeats of three tasks on nine threads, twice:
    the same answers, whatever order the threads' model calls came in."""
    code = (TASKS_DIR / "agents" / "arc" / "baselines" / "adas_self_consistency.py").read_text()
    scope: dict = {}
    exec(compile(code, "adas_self_consistency.py", "exec"), scope)
    secret = {"dataset": "arc", "split": "validation", "count": 3, "threads": 9, "n_repeat": 3}
    first = in_process(secret, scope["forward"])[0].answers
    assert len(first) == 9 and in_process(secret, scope["forward"])[0].answers == first


# --- ADAS's protocol: n_repeat --------------------------------------------------------------

def test_n_repeat_asks_each_question_that_often_and_scores_every_run():
    case = Case("c", {}, {"dataset": "arithmetic", "seed": 1, "count": 4, "n_repeat": 3})
    loop = question_loop.oracle(None, case)
    handed = loop(["start"])["questions"]
    assert [q["id"] for q in handed] == [f"q{i}.{k}" for i in range(4) for k in range(3)]
    assert [q["text"] for q in handed[:3]] == [loop.questions["q0"].text] * 3
    for run, qid in loop.runs.items():  # right on the first of each question's three runs
        loop(["answer", run, loop.questions[qid].answer if run.endswith(".0") else "-1"])
    metrics = question_loop.score(None, case, {}, loop).public
    assert metrics["accuracy"] == round(1 / 3, 4) and metrics["answered"] == 12
    assert (metrics["questions"], metrics["n_repeat"]) == (4, 3)
    _, low, high = question_loop.bootstrap([1.0, 0.0, 0.0] * 4)  # over all 12 runs, as ADAS
    assert (metrics["ci_low"], metrics["ci_high"]) == (round(low, 4), round(high, 4))


@pytest.mark.parametrize("value", [0, "5", True, 1.5])
def test_a_bad_n_repeat_stops_before_the_campaign(value):
    stage = SimpleNamespace(cases=[SimpleNamespace(secret={"dataset": "arithmetic", "seed": 1,
                                                           "count": 2, "n_repeat": value})])
    with pytest.raises(ValueError, match=r"n_repeat must be a whole number of at least 1"):
        question_loop.prepare([stage])


def test_arc_asks_each_task_five_times_as_adas():
    config = load_task("arc").config
    assert [c.secret["n_repeat"] for s in [*config.stages, config.held_out]
            for c in s.cases] == [5, 5]


# --- ADAS's GSM8K sample --------------------------------------------------------------------

def adas_sample(lines: list[str]) -> list[dict]:
    """ADAS's `_transfer_math/evaluation_gsm8k.py`, as it is written there (the global random
    state is put back afterwards)."""
    state = random.getstate()
    try:
        examples = [json.loads(line) for line in lines]
        random.seed(0)
        random.shuffle(examples)
    finally:
        random.setstate(state)
    return examples


def test_gsm8k_is_adas_sample_in_adas_order():
    with gzip.open(questions.GSM8K_TEST, "rt", encoding="utf-8") as file:
        lines = file.read().splitlines()
    assert len(lines) == 1319
    expected = adas_sample(lines)
    for split, (start, end) in (("validation", (0, 128)), ("test", (128, 928))):
        sample = questions.gsm8k_adas(split)
        assert [q.text for q in sample] == [
            "Solve this math problem:\n" + e["question"] for e in expected[start:end]]
        assert [q.answer for q in sample] == [
            e["answer"].rsplit("####", 1)[1].strip().replace(",", "") for e in expected[start:end]]
    first = questions.gsm8k_adas("validation")[0]
    assert first.text.startswith("Solve this math problem:\nAmber, Micah, and Ahito ran 52 "
                                 "miles") and first.answer == "16"


def test_the_gsm8k_task_needs_no_download_and_takes_a_local_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the hub is away
    task = load_task("gsm8k")
    task.prepare()
    counts = [len(question_loop.load(c.secret)) for s in [*task.config.stages,
                                                          task.config.held_out] for c in s.cases]
    assert counts == [128, 800]
    copy = tmp_path / "test.jsonl"
    copy.write_bytes(gzip.decompress(questions.GSM8K_TEST.read_bytes()))
    assert questions.gsm8k_adas("test", str(copy)) == questions.gsm8k_adas("test")
    with pytest.raises(ValueError, match=r"cannot read .*missing\.jsonl.*local_file"):
        questions.gsm8k_adas("validation", str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match="unknown GSM8K split"):
        questions.gsm8k_adas("train")
