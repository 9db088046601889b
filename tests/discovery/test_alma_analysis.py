"""ALMA's analysis step (zksha/alma core/meta_agent_prompt.py build_analysis_prompt,
core/meta_agent.py read_memo_info, evals/launch.py get_meta_eval_info) as
discovery/loop/analysis.py builds it. The campaign through the sandbox is in
tests/evaluators/tasks/test_memory_gridworld.py (the suggestion carried from parent to
child)."""

import json

from archive.records import ModelCall
from discovery.loop import analysis
from discovery.search.edits import block_text

ALMA_KEYS = ["learned_from_suggestion_example", "trajectory_score_assessment",
             "content_quality_issues", "structure_and_coherence", "suggested_changes"]


def episode(reward: float, goal: str) -> str:
    return json.dumps({"init_environment": {"goal": goal, "obs": "{}"}, "memo_retrieved": {},
                       "steps": [{"action": "up", "obs": "{}", "reward": reward}],
                       "final_reward": reward})


def test_the_schema_is_alma_s():
    """The keys and enums of ALMA's MEMO_ANALYSIS_OUTPUT_FORMAT, in its order."""
    assert list(analysis.SCHEMA) == ALMA_KEYS
    labels = analysis.SCHEMA["trajectory_score_assessment"]["items"]["properties"]["label"]
    assert labels["enum"] == ["Useful", "Potentially Useful", "Irrelevant", "Empty/BadFormat"]
    changes = analysis.SCHEMA["suggested_changes"]["items"]
    assert changes["required"] == ["priority", "what", "why"]
    assert changes["properties"]["priority"]["enum"] == ["High", "Medium", "Low"]


def test_the_examples_are_three_a_bin_over_all_cases_and_three_errors():
    """ALMA samples over the whole evaluation: each case's sample is pooled and drawn again,
    at most 3 a fixed bin (0-0.33, 0.33-0.66, 0.66-1) and 3 errors, the same each time."""
    cases = {f"s{c}_episodes": "\n".join(
        [episode(r, f"c{c}-{i}") for i, r in enumerate([0.0, 0.0, 0.5, 1.0, 1.0, 1.0])]
        + [json.dumps({"error_info": f"c{c} raised", "final_reward": 0.0})])
        for c in range(3)}
    shown = analysis.examples({**cases, "s1_reward": 0.5}, seed=4)
    rewards = [e["final_reward"] for e in shown if "steps" in e]
    assert sorted(rewards) == [0.0] * 3 + [0.5] * 3 + [1.0] * 3
    assert sum("error_info" in e for e in shown) == 3
    assert {e["init_environment"]["goal"][:2] for e in shown if "steps" in e} > {"c0"}
    assert shown == analysis.examples({**cases, "s1_reward": 0.5}, seed=4)
    assert analysis.examples({"reward": 1.0}, seed=4) == []


def test_an_answer_is_read_as_alma_s_json_and_the_proposal_gets_labels_and_changes():
    value = {"trajectory_score_assessment": [{"label": "Useful", "how_it_can_help": "x"}],
             "suggested_changes": [{"priority": "High", "what": "y", "why": "z"}],
             "content_quality_issues": "none", "unrelated": 1}
    fenced = f"Here it is:\n```json\n{json.dumps(value)}\n```"
    assert analysis.parse(fenced) == {k: v for k, v in value.items() if k != "unrelated"}
    assert json.loads(analysis.for_proposal(fenced)) == {
        k: value[k] for k in ("trajectory_score_assessment", "suggested_changes")}
    assert analysis.parse("no object here") is None
    assert analysis.for_proposal("Remember the items.") == "Remember the items."
    assert analysis.for_proposal("x" * 5000) == "x" * analysis.MAX_FALLBACK_CHARS


def test_the_improve_example_is_the_parent_s_code_the_suggestion_and_the_score_change(writer):
    """read_memo_info's improve_example: the parent's source code, the memo's suggestion and
    improve_score = its reward - its parent's reward; none for a memo made without one."""
    from helpers import add_scored

    seed = add_scored(writer, 0.0, 0.25)
    child = add_scored(writer, 1.0, 0.75, parents=[seed])
    plain = add_scored(writer, 2.0, 0.5, parents=[seed])
    advice = {"suggested_changes": [{"priority": "High", "what": "keep a map", "why": "w"}]}
    writer.record_model_call(ModelCall("m", "analysis", raw_response=json.dumps(advice),
                                       program_id=child))
    writer.record_model_call(ModelCall("m", "propose", raw_response="code", program_id=child))
    example = analysis.improve_example(writer, writer.program(child))
    assert example == {"source_code": block_text(writer.program(seed).code),
                       "suggestion": advice, "improve_score": 0.5}
    assert analysis.improve_example(writer, writer.program(plain)) is None
    assert analysis.improve_example(writer, writer.program(seed)) is None
    # the child's analysis prompt shows it, with ALMA's schema and the child's score
    messages = analysis.messages(writer, "Find the gems.", writer.program(child),
                                 {"episodes": episode(1.0, "go to the gem")})
    system, user = messages[0]["content"], messages[1]["content"]
    assert "Find the gems." in system and '"trajectory_score_assessment"' in system
    assert '"improve_score": 0.5' in user and "keep a map" in user
    assert "<CURRENT BENCHMARK SCORE>\n0.75\n" in user


def test_the_proposer_asks_alma_s_analysis_and_passes_on_the_labels_and_changes(
        writer, tmp_path):
    """Proposer._analyse: one call (purpose analysis, JSON asked for) with ALMA's prompt for
    the parent's final evaluation; the proposal gets the labels and the suggested changes."""
    from archive import NewProgram
    from archive.records import EvaluationResult
    from discovery.config import load_config
    from discovery.doubles.scripted import Scripted
    from discovery.loop.plan import Op, Outcome, Plan
    from discovery.loop.proposer import Proposer
    from discovery.models.base import ModelSpec
    from discovery.search.novelty import TextNovelty
    from evaluators.task import load_task

    task = load_task("gridworld_memory")
    parent = writer.add_program(NewProgram(task.seed_code))
    writer.record_evaluation(parent, EvaluationResult(
        "train", "ok", 0.4, {"s1_episodes": episode(0.0, "go to the gem"), "s1_reward": 0.4}))
    answer = {"trajectory_score_assessment": [{"label": "Irrelevant", "how_it_can_help": "-"}],
              "suggested_changes": [{"priority": "High", "what": "map", "why": "w"}],
              "structure_and_coherence": "none"}
    script = tmp_path / "answers.jsonl"
    script.write_text(json.dumps({"text": json.dumps(answer)}) + "\n")
    spec = ModelSpec(name=f"scripted:{script}")
    client = Scripted(spec, script)
    config = load_config("gridworld_memory", None, ["edits.analysis=true"])
    proposer = Proposer(config, task, {spec.name: client}, TextNovelty(0.995), writer.path, "")
    plan = Plan(1, 0, Op.LLM, parent=writer.program(parent), model=spec.name)
    outcome = Outcome(plan)
    given = proposer._analyse(plan, outcome, client)
    assert json.loads(given) == {k: answer[k] for k in analysis.FOR_PROPOSAL}
    assert [c.purpose for c in outcome.calls] == ["analysis"]
    plan.analysis = given
    prompt = proposer.messages(plan)[-1]["content"]
    assert "An analysis of the parent's episodes:\n" + given in prompt
