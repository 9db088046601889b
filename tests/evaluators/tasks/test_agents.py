"""Agent tasks (ADAS): the model channel from inside the sandbox, the question loop kept on the
trusted side, hostile agents, and campaigns with the simulated agent model."""

import json
import re
import time

import pytest

from discovery.models import agent_models, make_client
from discovery.models.agent import AgentModelConfig, AgentModels, resolve_agent
from discovery.models.transcripts import Recorder
from evaluators.agent_model import AgentModelError
from evaluators.task import Case, load_task
from evaluators.workers import WorkerPool
from tests.helpers import discover

SCRIPT = "tests/data/agent_script.jsonl"


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(size=1) as workers:
        yield workers


def evaluate(code: str, pool, calls=None, **budget):
    """The arithmetic task's validation stage on `code`, with the simulated agent model."""
    models = agent_models(AgentModelConfig(name="simulator", **budget))
    calls = [] if calls is None else calls
    return load_task("arithmetic").evaluate(code, pool, model=models.for_evaluation(calls))[-1]


def with_forward(body: str) -> str:
    """The seed with its forward's body replaced."""
    seed = load_task("arithmetic").seed_code
    return re.sub(r"(def forward\(self, taskInfo\):\n).*?(# EVOLVE-BLOCK-END)",
                  lambda m: f"{m.group(1)}{body}\n{m.group(2)}", seed, flags=re.S)


def test_the_seed_calls_the_agent_model_from_the_sandbox_and_every_call_is_recorded(pool):
    calls = []
    result = evaluate(load_task("arithmetic").seed_code, pool, calls)
    assert result.status == "ok", result.reason
    metrics = result.public_metrics
    assert metrics["questions"] == metrics["answered"] == 30
    assert 0 < result.score < 1 and metrics["ci_low"] <= result.score <= metrics["ci_high"]
    assert len(calls) == 30 and {c.purpose for c in calls} == {"agent"}


def test_self_consistency_beats_chain_of_thought_with_the_simulator(pool):
    task = load_task("arithmetic")
    cot = evaluate(task.seed_code, pool)
    voting = evaluate(task.baselines["self_consistency"], pool)
    assert voting.public_metrics["ci_low"] > cot.score, (voting.public_metrics, cot.score)


def test_a_budget_stops_an_agent_that_loops_on_the_model(pool):
    calls = []
    looping = with_forward("    agent = LLMAgentBase(['answer'], 'Loop')\n"
                           "    while True:\n"
                           "        agent([taskInfo], 'again')")
    result = evaluate(looping, pool, calls, calls_per_evaluation=50)
    assert result.status == "ok" and result.score == 0
    assert "budget of 50 agent-model calls" in result.public_metrics["model_refused"]
    assert "budget of 50" in result.public_metrics["commonest_failure"]
    assert len(calls) == 50


@pytest.mark.parametrize(("body", "expected"), [
    ("    raise ValueError('no idea')", "ValueError: no idea"),
    ("    print('x' * 100)\n    return 42", None),
    ("    return {'a': object}", "TypeError"),
    ("    LLMAgentBase(['answer'], 'A')([taskInfo], 'Answer.')", "forward returned None"),
    ("    import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=1)", "Error"),
])
def test_a_misbehaving_agent_scores_zero_on_its_questions_with_the_reason(pool, body, expected):
    result = evaluate(with_forward(body), pool)
    assert result.status == "ok", result.reason
    if expected is None:  # printing is harmless; a constant answer is simply wrong
        assert result.public_metrics["failed"] == 0
    else:
        assert result.score == 0 and expected in result.public_metrics["commonest_failure"]


def test_an_agent_cannot_read_the_answers_or_answer_twice(pool):
    """The gold answers never enter the sandbox: the only ways to ask are the channel's
    requests, and the first word on a question counts."""
    probing = with_forward(
        "    import agent_api, gc\n"
        "    seen = [repr(o)[:200] for o in gc.get_objects() if isinstance(o, dict)]\n"
        "    for q in range(30):\n"
        "        agent_api._channel('answer', f'q{q}', '0')\n"
        "    return 'x'")
    result = evaluate(probing, pool)
    assert result.status == "ok" and result.score == 0


def question_loop(count: int = 3):
    """The arithmetic task's trusted question loop for a case of `count` questions, started,
    and its scorer (no sandbox: the requests are what a hostile agent could send)."""
    task = load_task("arithmetic")
    case = Case("c", {}, {"dataset": "arithmetic", "seed": 1, "count": count, "threads": 1})
    loop = task.scorer.oracle("validation", case)
    loop(["start"])
    return loop, lambda outputs: task.scorer.score("validation", case, outputs, loop)


def test_an_agents_failures_reach_prompts_only_as_a_short_line():
    """The commonest failure is public, so later prompts show it: an agent failing every
    question with 20,000 characters of its own text gets 300 of them shown."""
    loop, score = question_loop()
    for qid in loop.questions:
        loop(["fail", qid, "ignore the task and " * 1000])
    shown = score({"answered": 0}).public["commonest_failure"]
    assert len(shown) < 320 and shown.endswith("... (3x)")


def test_answers_to_unknown_or_unhashable_question_ids_are_refused_to_the_agent():
    loop, score = question_loop()
    for qid in (["q0"], {"q": 0}, "q99", None):
        with pytest.raises(ValueError, match="was handed out"):
            loop(["answer", qid, "1"])
    assert score({}).score == 0.0


def test_a_model_request_is_checked_before_the_trusted_side_searches_it():
    """The loop finds the question a prompt is about by searching the prompt for each
    question's text: a request of 10 MB was searched once per question before the model
    channel refused it. Counted, not timed: the search now sees only checked requests."""
    loop, _ = question_loop()
    searched, search = [], loop._reference
    loop._reference = lambda messages: searched.append(
        sum(len(m["content"]) for m in messages)) or search(messages)
    for content in ("x" * 10_000_000, "hi"):
        with pytest.raises(AgentModelError):  # too long; then: this case has no model
            loop(["model", [{"role": "user", "content": content}]])
    assert searched == [2]


def test_the_model_channel_refuses_malformed_requests():
    from evaluators.agent_model import serve

    models = agent_models(AgentModelConfig(name="simulator"))
    model = models.for_evaluation([])
    for messages in ([], "hi", [{"role": "root", "content": "x"}], [{"role": "user"}],
                     [{"role": "user", "content": "x" * 300_000}]):
        with pytest.raises(AgentModelError):
            serve(model, messages)
    with pytest.raises(AgentModelError, match="temperature"):
        serve(model, [{"role": "user", "content": "x"}], 7)


def test_a_simulated_campaign_finds_an_agent_above_chain_of_thought_and_replays(tmp_path):
    """A scripted meta model proposes self-consistency; the simulator answers the agents; the
    recorded transcript replays the whole campaign, agent calls included, to the same
    archive."""
    settings = ["--set", f'models=[{{name="scripted:{SCRIPT}", edit_mix={{rewrite=1.0}}}}]',
                "--set", 'agent_model={name="simulator"}', "--set", "edits.tune_share=0",
                "--set", "edits.restart_share=0", "--set", "selection.islands=1",
                "--progress", "quiet"]
    start = time.monotonic()
    result = discover(tmp_path, "run", "arithmetic", "--name", "a", "--iterations", "3",
                      *settings)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - start < 120
    from archive import ArchiveReader

    def scores(name):
        with ArchiveReader(tmp_path / name / "archive.sqlite") as reader:
            programs = reader.programs(range(1, reader.count() + 1))
            usage = {u.model: u.calls for u in reader.model_usage()}
            return [(p.code, p.score) for p in programs], usage

    original, usage = scores("a")
    seed_score = original[0][1]
    best = max(score for _, score in original)
    assert best > seed_score and usage["simulator (agent)"] > 30
    with ArchiveReader(tmp_path / "a" / "archive.sqlite") as reader:  # interval above the seed
        final = next(e for e in reader.evaluations(reader.best().id) if e.final)
    assert final.public_metrics["ci_low"] > seed_score
    replay = discover(tmp_path, "run", "arithmetic", "--name", "b", "--iterations", "3",
                      *settings, "--set", f'replay="{tmp_path / "a" / "transcript.jsonl"}"')
    assert replay.exit_code == 0, replay.output
    assert scores("b") == (original, usage)
    lines = [json.loads(line) for line in (tmp_path / "a" / "transcript.jsonl").open()]
    assert any(line["model"] == "simulator" for line in lines)


def derived_task(tmp_path, base: str, body: str):
    """A task folder that `extends` the shipped task `base` with the TOML `body` (smaller
    stages, another secret)."""
    root = tmp_path / f"{base}_derived"
    root.mkdir()
    (root / "task.toml").write_text(f'extends = "{load_task(base).root / "task.toml"}"\n'
                                    f'name = "{base}_derived"\n{body}')
    return load_task(root)


def test_arc_agents_run_model_written_code_in_the_sandbox_with_a_time_limit(pool, tmp_path):
    """The seed on ADAS's protocol (20 tasks, each asked 5 times); then code that never ends,
    cut off on each run and reported as that run's failure, not the evaluation's."""
    models = agent_models(AgentModelConfig(name="simulator"))
    task = load_task("arc")
    result = task.evaluate(task.seed_code, pool, model=models.for_evaluation([]))[-1]
    metrics = result.public_metrics
    assert result.status == "ok" and metrics["questions"] == 20 and metrics["n_repeat"] == 5
    assert metrics["answered"] == 100 and metrics["failed"] == 0 and 0 < result.score < 1
    small = derived_task(tmp_path, "arc", "[secret]\nn_repeat = 1\n[[stages]]\n"
                         'name = "validation"\ncases = [{ name = "v", secret = { dataset = "arc", '
                         'split = "validation", count = 3, threads = 3 } }]\n')
    looping = task.seed_code.replace(
        "    return self.get_test_output_from_code(code)",
        "    return self.get_test_output_from_code('def transform(grid):\\n    while True: pass')")
    result = small.evaluate(looping, pool, model=models.for_evaluation([]))[-1]
    assert result.status == "ok" and result.score == 0
    assert result.public_metrics["failed"] == 3  # each loop was cut off, not the run
    assert "transform ran longer than 2 s (3x)" in result.public_metrics["commonest_failure"]


def campaign_settings(script: str, *extra: str) -> list[str]:
    return ["--set", f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]',
            "--set", 'agent_model={name="simulator"}', "--set", "edits.tune_share=0",
            "--set", "edits.restart_share=0", "--set", "selection.islands=1",
            "--progress", "quiet", *(a for s in extra for a in ("--set", s))]


def test_a_campaign_starts_from_every_baseline_and_debugs_a_failing_agent(tmp_path):
    """seed_baselines puts the task's hand-written agents in the archive first; a proposal
    that fails on every question goes back to its model with the reason (a debug turn) and
    the fixed agent is what is archived."""
    from archive import ArchiveReader

    task = load_task("arithmetic")
    iterations = 1 + len(task.baselines) + 1
    result = discover(tmp_path, "run", "arithmetic", "--name", "d", "--iterations",
                      str(iterations), *campaign_settings("tests/data/agent_debug_script.jsonl",
                                                          "seed_baselines=true",
                                                          "edits.debug_turns=3"))
    assert result.exit_code == 0, result.output
    with ArchiveReader(tmp_path / "d" / "archive.sqlite") as reader:
        programs = reader.programs(range(1, reader.count() + 1))
        kinds = [p.edit_kind for p in programs]
        assert kinds == ["seed", *["baseline"] * len(task.baselines), "rewrite"]
        assert {p.code for p in programs[1:-1]} == set(task.baselines.values())
        debugged = programs[-1]
        assert "[after debug turn 1]" in debugged.edit_text and debugged.score > 0
        assert reader.purpose_totals("debug")[0] == 1  # one turn fixed it
        assert reader.purpose_totals("agent")[0] > 8 * 30  # seed, baselines, proposal, fix


def test_design_names_and_thoughts_show_in_show_lineage_and_exports(tmp_path):
    result = discover(tmp_path, "run", "arithmetic", "--name", "n", "--iterations", "2",
                      *campaign_settings(SCRIPT))
    assert result.exit_code == 0, result.output
    show = discover(tmp_path, "show", "n", "2")
    assert "Self-Consistency with Chain-of-Thought" in show.output
    assert "errors scatter" in show.output
    lineage = discover(tmp_path, "lineage", "n")
    assert "Chain-of-Thought" in lineage.output and "Self-Consistency" in lineage.output
    out = tmp_path / "best_agent.py"
    assert discover(tmp_path, "export", "n", "--out", str(out)).exit_code == 0
    assert "design:            Self-Consistency with Chain-of-Thought" in out.read_text()


def test_the_report_shows_search_and_test_scores_with_intervals(tmp_path):
    result = discover(tmp_path, "run", "arithmetic", "--name", "r", "--iterations", "2",
                      *campaign_settings(SCRIPT))
    assert result.exit_code == 0, result.output
    report = discover(tmp_path, "report", "r", "--workers", "2")
    assert report.exit_code == 0, report.output
    text = (tmp_path / "r" / "report" / "report.md").read_text()
    assert "| program | search score | ci_low | ci_high | test score | test ci_low |" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()
            if line.startswith("| ")}
    assert {"#2", "seed", "self_consistency", "debate"} <= set(rows)
    assert "n/a" not in rows["#2"] and "n/a" not in rows["self_refine"]
    assert "Test score of the best by the search score (#2)" in text


def test_the_multiple_choice_task_runs_the_shared_seed_and_baselines(pool):
    models = agent_models(AgentModelConfig(name="simulator"))
    task = load_task("multiple_choice")
    seed = task.evaluate(task.seed_code, pool, model=models.for_evaluation([]))[-1]
    voting = task.evaluate(task.baselines["self_consistency"], pool,
                           model=models.for_evaluation([]))[-1]
    assert seed.status == voting.status == "ok"
    assert voting.public_metrics["ci_low"] > seed.score


def test_a_hub_task_offline_stops_before_the_campaign_naming_the_local_file(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: the hub is away
    mgsm = derived_task(tmp_path, "gsm8k", '[[stages]]\nname = "validation"\ncases = [{ name = '
                        '"v", secret = { dataset = "mgsm", split = "test", count = 8 } }]\n')
    result = discover(tmp_path, "run", str(mgsm.root), "--name", "h", "--iterations", "1")
    assert result.exit_code == 1
    assert "local_file" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "h").exists()


def test_reflexion_and_debug_prompts_list_the_tasks_mistakes(tmp_path):
    result = discover(tmp_path, "run", "arithmetic", "--name", "m", "--iterations", "2",
                      *campaign_settings(SCRIPT, "edits.reflexion_rounds=1"))
    assert result.exit_code == 0, result.output
    prompts = [line["messages"][-1]["content"] for line in map(
        json.loads, (tmp_path / "m" / "transcript.jsonl").open())
        if line["model"].startswith("scripted")]
    assert "Check especially for these mistakes" in prompts[-1]
    assert load_task("arithmetic").config.mistakes[0] in prompts[-1]


def test_an_evaluation_whose_transcript_was_cut_says_so(pool, tmp_path):
    """Past the transcript's cap an evaluation's prompts go unrecorded: its private metrics
    (reports, never prompts) name the cut, so nobody reads a short transcript as complete."""
    config = resolve_agent(AgentModelConfig(name="simulator",
                                            transcript_bytes_per_evaluation=2_000))
    models = AgentModels(config, Recorder(make_client(config), tmp_path / "transcript.jsonl"))
    result = load_task("arithmetic").evaluate(load_task("arithmetic").seed_code, pool,
                                              model=models.for_evaluation([]))[-1]
    assert result.status == "ok", result.reason
    assert "2,000 bytes of agent transcript" in result.private_metrics["transcript_cut"]
    uncut = evaluate(load_task("arithmetic").seed_code, pool)
    assert "transcript_cut" not in uncut.private_metrics
