"""ADAS's Meta Agent Search as its authors ran it (`selection.strategy = "adas"`): no parent,
every archived program in the prompt as ADAS's JSON entries, a complete new forward each time,
and ADAS's two reflexion rounds (interestingness against the archive, then the mistakes list)
before the code is run; and the presets that mirror ADAS's search settings load and run."""

import json
from pathlib import Path

import pytest

from archive import ArchiveReader
from discovery.config import load_config
from discovery.search.edits import block_text, design_notes
from evaluators.task import load_task
from tests.discovery.test_double_label import small_arithmetic
from tests.helpers import discover

CAMPAIGNS = Path(__file__).parents[2] / "examples" / "campaigns"
PRESETS = {"adas_arc.toml": ("arc", 25, 5), "adas_gsm8k.toml": ("gsm8k", 30, 1)}
"""Each preset, its task, and ADAS's --n_generation and --n_repreat in that task's search.py."""
IDEAS = ["Answer directly after reading twice.", "Think step by step, then answer.",
         "List the quantities first, then compute.", "Estimate first, then compute exactly.",
         "Solve it twice and compare.", "Rewrite the problem as equations first."]


def forward(i: int) -> str:
    idea = IDEAS[i]
    return (f'def forward(self, taskInfo):\n    """Design {i}\n\n    {idea}\n    """\n'
            f'    instruction = "{idea} Variant {i} of the search."\n'
            f'    agent = LLMAgentBase(["thinking", "answer"], "Agent {i}", temperature=0.{i + 1})'
            f'\n    thinking, answer = agent([taskInfo], instruction)\n    return answer')


def script(tmp_path: Path) -> str:
    """A scripted meta model's answers: a reflection, then a distinct forward each."""
    path = tmp_path / "meta.jsonl"
    path.write_text("".join(json.dumps({"text": f"Reflection {i}.\n```python\n{forward(i)}\n```"})
                            + "\n" for i in range(len(IDEAS))))
    return f'models=[{{name="scripted:{path}"}}]'


def meta_calls(reader: ArchiveReader, transcript: Path, program: int) -> list[tuple[str, list]]:
    """(purpose, messages) of the meta model's calls that made the program, oldest first."""
    exchanges = {row["call"]: row["messages"] for row in map(json.loads, transcript.open())}
    return [(call.purpose, exchanges[call.call_id])
            for call in reader.model_calls(program=program) if call.model.startswith("scripted")]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """Two ADAS generations on 3 arithmetic questions, after the seed and the 7 baselines."""
    root = tmp_path_factory.mktemp("adas")
    done = discover(root / "runs", "run", str(small_arithmetic(root)), "--name", "a",
                    "--iterations", "10", "--progress", "quiet", "--no-preflight",
                    "--set", script(root), "--set", 'agent_model={name="simulator"}',
                    "--set", "selection.strategy='adas'", "--set", "selection.islands=1",
                    "--set", "seed_baselines=true", "--set", "edits.reflexion_rounds=2",
                    "--set", "edits.tune_share=0", "--set", "edits.restart_share=0")
    assert done.exit_code == 0, done.output
    return root / "runs" / "a"


def test_a_child_has_no_parent_and_the_whole_archive_as_its_context(run):
    with ArchiveReader(run / "archive.sqlite") as reader:
        programs = reader.programs(list(range(1, reader.count() + 1)))
    initial, children = programs[:8], programs[8:]
    assert [p.edit_kind for p in initial] == ["seed"] + ["baseline"] * 7
    assert len(children) == 2 and all(p.status == "ok" for p in programs)
    for n, child in enumerate(children):
        assert child.parents == () and child.edit_kind == "rewrite"
        # the archive it was shown: every program before it (each code once)
        assert child.inspirations == tuple(p.id for p in programs[:8 + n])


def test_the_prompt_holds_every_archived_program_as_adas_lists_it(run):
    with ArchiveReader(run / "archive.sqlite") as reader:
        programs = reader.programs(list(range(1, reader.count() + 1)))
        second = programs[-1]
        purpose, messages = meta_calls(reader, run / "transcript.jsonl", second.id)[0]
        metrics = {p.id: next(e for e in reader.evaluations(p.id) if e.final).public_metrics
                   for p in programs}
    assert purpose == "propose"
    prompt = messages[1]["content"]
    archive = json.loads(prompt[prompt.index("[{"):prompt.index("}]") + 2])
    shown = programs[:-1]
    assert [entry["code"] for entry in archive] == [block_text(p.code) for p in shown]
    assert [entry["name"] for entry in archive] == [design_notes(p.code).name for p in shown]
    assert [entry["generation"] for entry in archive] == ["initial"] * 8 + [1]
    for entry, program in zip(archive, shown, strict=True):
        assert entry["fitness"].startswith(f"score={program.score:.6g}, ")
        assert f"ci_low={metrics[program.id]['ci_low']:.6g}" in entry["fitness"]
    assert "A program with score" not in prompt  # not whole_archive's best-first listing


def test_each_child_is_a_complete_new_forward_after_two_adas_reflexion_rounds(run):
    seed = load_task("arithmetic").seed_code
    with ArchiveReader(run / "archive.sqlite") as reader:
        first, second = reader.programs([9, 10])
        calls = [meta_calls(reader, run / "transcript.jsonl", p.id) for p in (first, second)]
    for n, (child, made) in enumerate(zip((first, second), calls, strict=True)):
        assert [purpose for purpose, _ in made] == ["propose", "reflexion", "reflexion"]
        # the script's answers go 0, 1, 2, then 3, 4, 5: the last reflexion's forward is run,
        # whole, in the seed's frame (the code outside the EVOLVE-BLOCK)
        assert block_text(child.code) == forward(3 * n + 2)
        assert child.code.replace(block_text(child.code), "") == \
            seed.replace(block_text(seed), "")
        first_round, second_round = made[1][1][-1]["content"], made[2][1][-1]["content"]
        assert "Interestingness" in first_round and "designs in the archive" in first_round
        assert "Interestingness" not in second_round and "mistakes" in second_round
        assert "unpack it" in second_round  # the task's own mistakes list
    # ADAS shows the previous design the search tried in the first round, from the second on
    assert "previous design the search tried" not in calls[0][1][1][-1]["content"]
    previous = calls[1][1][1][-1]["content"]
    assert "previous design the search tried" in previous
    assert json.dumps(block_text(first.code)) in previous


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_adas_presets_mirror_adas_settings_and_run(tmp_path, preset):
    config = load_config(None, CAMPAIGNS / preset)
    task_name, generations, repeats = PRESETS[preset]
    task = load_task(config.task)
    assert config.task == task_name and config.selection.strategy == "adas"
    assert config.budgets.iterations == 1 + len(task.baselines) + generations
    assert config.edits.reflexion_rounds == 2 and config.edits.debug_turns == 2  # debug_max 3
    assert config.models[0].name == "openai/gpt-4o-2024-05-13"
    assert config.agent_model.name == "openai/gpt-3.5-turbo-0125"
    assert task.config.stages[0].cases[0].secret.get("n_repeat", 1) == repeats
    done = discover(tmp_path, "run", task_name, "--config", str(CAMPAIGNS / preset), "--name",
                    "p", "--iterations", "1", "--progress", "quiet", "--no-preflight",
                    "--set", script(tmp_path), "--set", 'agent_model={name="simulator"}')
    assert done.exit_code == 0, done.output
    with ArchiveReader(tmp_path / "p" / "archive.sqlite") as reader:
        assert reader.count() == 1 and reader.best().score is not None


def test_the_gsm8k_preset_runs_an_adas_generation_with_the_simulator(tmp_path):
    done = discover(tmp_path, "run", "gsm8k", "--config", str(CAMPAIGNS / "adas_gsm8k.toml"),
                    "--name", "p", "--iterations", "9", "--progress", "quiet",
                    "--no-preflight", "--set", script(tmp_path),
                    "--set", 'agent_model={name="simulator"}')
    assert done.exit_code == 0, done.output
    with ArchiveReader(tmp_path / "p" / "archive.sqlite") as reader:
        child = reader.program(9)
    assert child.parents == () and child.inspirations == tuple(range(1, 9))
    assert child.status == "ok" and block_text(child.code) == forward(2)
