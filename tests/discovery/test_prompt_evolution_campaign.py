"""Prompt co-evolution in whole campaigns (a mock OpenAI server: a test double that answers
proposals from the circle-packing script and the meta model's mutations from a list): off by
default with the shipped prompts, on by the setting with mutations, refusals and the variant of
each program shown by status and lineage; a recorded campaign replays to the same prompts."""

import json
import re

from helpers import SCRIPT, discover, run_scripted

from archive import ArchiveReader
from archive.prompt_archive import mutations
from discovery.doubles.mock_server import MockServer
from prompts import render

META = "You improve the instructions"
GARBAGE = "I would keep the prompt as it is."
GOOD = ("<NAME>small steps</NAME>\n<SYSTEM>\nYou improve Python code one careful step at a "
        "time. Reply with exactly one ```python code block holding the whole new block, and "
        "nothing else.\n</SYSTEM>\n<INSTRUCTION>Change one idea at a time.</INSTRUCTION>")
HUGE = f"<SYSTEM>```python {'x' * 9000}</SYSTEM>"
EVOLVING = ("selection.islands=1", "executor='fresh'", "prompt_evolution.enabled=true",
            "prompt_evolution.every=2")


def _server(systems: list[str]):
    """A mock model server: the meta model's calls get GARBAGE, GOOD, then HUGE; proposals get
    the circle-packing script in turn, their system prompts appended to `systems`."""
    answers = [json.loads(line)["text"] for line in SCRIPT.read_text().splitlines()]
    meta, served = iter([GARBAGE, GOOD]), iter(range(10**6))

    def reply(messages):
        system = messages[0]["content"]
        if system.startswith(META):
            return next(meta, HUGE)
        if system.startswith("You improve"):  # not the preflight's "Reply with OK."
            systems.append(system)
        return answers[next(served) % len(answers)]
    return MockServer(reply=reply)


def _model(server: MockServer) -> str:
    return (f'models=[{{name="openai/mock-model", api_base="{server.base_url}", '
            'api_key_env="MOCK_KEY", edit_mix={rewrite=1.0}}]')


def test_off_by_default_the_shipped_prompts_and_an_empty_prompt_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-test")
    systems: list[str] = []
    with _server(systems) as server:
        run_scripted(tmp_path, "off", 4, _model(server), "selection.islands=1",
                     "executor='fresh'")
    assert systems and set(systems) == {render("rewrite/system.md")}
    with ArchiveReader(tmp_path / "off" / "archive.sqlite") as reader:
        assert reader.prompt_variants() == [] and reader.prompt_uses() == []
        assert not mutations(reader)
    assert "prompt archive" not in discover(tmp_path, "status", "off").output
    assert "ran without" in discover(tmp_path, "lineage", "off", "--prompts").output


def test_a_campaign_evolves_its_prompts_and_status_and_lineage_show_them(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-test")
    systems: list[str] = []
    with _server(systems) as server:
        run_scripted(tmp_path, "on", 8, _model(server), *EVOLVING)
    with ArchiveReader(tmp_path / "on" / "archive.sqlite") as reader:
        shipped, *made = reader.prompt_variants("rewrite")
        assert shipped.system == render("rewrite/system.md") and shipped.iteration is None
        assert [(v.parent_id, v.name, v.instruction) for v in made] == [
            (shipped.id, "small steps", "Change one idea at a time.")]
        tried = mutations(reader)  # iterations 3, 5 and 7: every 2 since the first use at 1
        assert [(d["n"], d["variant"]) for d in tried] == [(3, None), (5, made[0].id),
                                                          (7, None)]
        assert "no <SYSTEM>" in tried[0]["refused"] and "over the 4000" in tried[2]["refused"]
        # the new variant was asked with at once, and its program says so
        assert made[0].system in systems
        uses = {u.iteration: u.variant_id for u in reader.prompt_uses()}
        assert uses[5] == made[0].id and sorted(uses) == list(range(1, 8))
        proposed = [p for p in reader.programs(range(1, reader.count() + 1))
                    if p.edit_kind == "rewrite"]
        assert proposed and all(uses[reader.iteration_of(p.id)] == p.prompt_variant
                                for p in proposed)
        assert reader.programs([1])[0].prompt_variant is None  # the seed: no proposal
        meta_calls = [c for n in (3, 5, 7) for c in reader.model_calls(iteration=n)
                      if c.purpose == "prompt_evolution"]
        assert len(meta_calls) == 3
    status = discover(tmp_path, "status", "on").output
    assert "prompt archive" in status
    assert re.search(r"3 mutations tried, 1 made a\s+variant, 2 refused", status)
    assert re.search(rf"#{made[0].id}\s.*rewrite\s.*#{shipped.id}\s.*iteration 5", status)
    shown = discover(tmp_path, "show", "on", str(proposed[-1].id)).output
    assert re.search(rf"prompt variant\s+#{proposed[-1].prompt_variant}\b", shown)
    tree = discover(tmp_path, "lineage", "on", "--prompts").output
    assert "rewrite prompts" in tree and f"#{made[0].id} small steps" in tree
    assert tree.index(f"#{shipped.id} shipped") < tree.index(f"#{made[0].id} small steps")


def test_an_evolving_campaign_replays_from_its_transcript_to_the_same_prompts(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-test")
    with _server([]) as server:
        model = _model(server)
        run_scripted(tmp_path, "live", 8, model, *EVOLVING)
    transcript = tmp_path / "live" / "transcript.jsonl"
    run_scripted(tmp_path, "replayed", 8, model, *EVOLVING,  # the server is gone now
                 f"replay={json.dumps(str(transcript))}")
    archives = []
    for name in ("live", "replayed"):
        with ArchiveReader(tmp_path / name / "archive.sqlite") as reader:
            archives.append((
                [(p.code, p.parents, p.score, p.prompt_variant)
                 for p in reader.programs(range(1, reader.count() + 1))],
                [(v.id, v.parent_id, v.system, v.instruction, v.iteration)
                 for v in reader.prompt_variants()],
                [(u.iteration, u.variant_id) for u in reader.prompt_uses()],
                [(d["n"], d["variant"], d["refused"]) for d in mutations(reader)]))
    assert archives[0] == archives[1]
    assert len(archives[0][1]) == 2  # the shipped prompt and one mutation
