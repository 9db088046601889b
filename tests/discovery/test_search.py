"""Search options of the loop: MAP-Elites, CMA-ES constant tuning, reflexion rounds, separate
proposal and evaluation pools. Real campaigns on circle packing with scripted answers."""

import difflib
import json
import math
import random
import time

import pytest
from helpers import SCRIPT, run_scripted

from archive import ArchiveReader, Program
from discovery.doubles.mock_server import MockServer
from discovery.loop.campaign import Campaign
from discovery.models.base import ModelSpec
from discovery.search.edits import EditError
from discovery.search.novelty import NoveltyError, TextNovelty, make_novelty
from discovery.search.operators import tune_constants
from discovery.search.selection import EliteGrid
from evaluators.task import DescriptorConfig

GOOD = json.loads(SCRIPT.read_text().splitlines()[1])["text"]
"""The script's valid, better-than-seed packing."""
GRID = "```python\n" + "\n".join([
    "def construct_packing(n):",
    "    k = 6",
    "    centers = [[(i % k + 0.5) / k, (i // k + 0.5) / k] for i in range(n)]",
    "    return centers, [0.5 / k] * n",
]) + "\n```"
"""A valid packing, worse than the seed (26 circles on a 6 x 6 grid)."""


def scripted_model(tmp_path, *answers: str) -> str:
    script = tmp_path / "answers.jsonl"
    script.write_text("".join(json.dumps({"text": a}) + "\n" for a in answers))
    return f'models=[{{name="scripted:{script}", edit_mix={{rewrite=1.0}}}}]'


def test_elite_grid_keeps_the_best_of_each_cell_and_draws_cells_uniformly():
    grid = EliteGrid([DescriptorConfig(name="code_length", high=1000, bins=4),
                      DescriptorConfig(name="spread", low=0, high=1, bins=2)])
    assert grid.cell(100, {"spread": 0.9}) == (0, 1)
    assert grid.cell(5000, {"spread": -3}) == (3, 0)  # outside the range: the end cells
    assert grid.cell(100, {}) is None and grid.cell(100, {"spread": math.nan}) is None
    assert grid.place(1, 0, 1.0, 100, {"spread": 0.1})
    assert not grid.place(2, 0, 0.5, 120, {"spread": 0.2})  # same cell, worse
    assert grid.place(3, 0, 2.0, 130, {"spread": 0.3})  # same cell, better: the new elite
    assert grid.place(4, 0, 0.1, 900, {"spread": 0.3})  # a weak program in an empty niche
    assert not grid.place(5, 0, 9.0, 900, {})
    draws = [grid.choose(0, random.Random(i)) for i in range(400)]
    assert set(draws) == {3, 4} and 150 < draws.count(4) < 250  # the niche as often as the best
    assert grid.choose(1, random.Random(0)) is None


def test_map_elites_campaign_selects_cell_elites_and_rebuilds_its_grid_on_resume(tmp_path):
    run_scripted(tmp_path, "g", 8, scripted_model(tmp_path, GOOD, GRID), "selection.islands=1",
                 "selection.strategy='map_elites'", "executor='fresh'")
    campaign = Campaign.resume(tmp_path / "g", lambda event: None)
    try:
        elites = {pid for _, pid in campaign.grid.elites[0].values()}
        with ArchiveReader(tmp_path / "g" / "archive.sqlite") as reader:
            ok = [p for p in reader.programs(range(1, reader.count() + 1)) if p.status == "ok"]
        assert len(elites) >= 2  # the equal-circle seed and the mixed-radius packing differ
        best_per_cell: dict = {}
        for program in ok:
            final = next(e for e in campaign.writer.evaluations(program.id) if e.final)
            cell = campaign.grid.cell(len(program.code), final.public_metrics)
            if cell not in best_per_cell or program.score > best_per_cell[cell].score:
                best_per_cell[cell] = program
        assert elites == {p.id for p in best_per_cell.values()}
        parents = {campaign._plan(n).parent.id for n in range(100, 140)
                   if campaign._plan(n).op == "llm"}
        assert parents and parents <= elites
    finally:
        campaign.close()


def test_cma_es_tunes_float_constants_within_its_budget():
    program = "import math\n# EVOLVE-BLOCK-START\ndef f():\n    return 2.0, 7\n# EVOLVE-BLOCK-END\n"
    seen = []

    def score(code: str) -> float:
        x = float(code.split("return ")[1].split(",")[0])
        seen.append(x)
        assert ", 7\n" in code  # integers are left alone
        return -(x - 2.6) ** 2

    tuned = tune_constants(program, score, seed=1, evaluations=40, sigma=0.2)
    assert tuned.evaluations == len(seen) == 40
    assert abs(float(tuned.code.split("return ")[1].split(",")[0]) - 2.6) < 0.1
    assert tuned.score == max(-(x - 2.6) ** 2 for x in seen)
    with pytest.raises(EditError, match="no float constants"):
        tune_constants(program.replace("2.0", "2"), score, seed=1, evaluations=4)


def test_tuning_iterations_spend_their_evaluations_and_archive_the_best(tmp_path):
    run_scripted(tmp_path, "t", 4, scripted_model(tmp_path, GOOD), "selection.islands=1",
                 "edits.tune_share=1", "edits.tune_evaluations=5", "executor='fresh'")
    with ArchiveReader(tmp_path / "t" / "archive.sqlite") as reader:
        tunes = [d for _, _, d in reader.events("iteration") if d["op"] == "tune"]
        assert len(tunes) == 3 and all(d["evaluations"] == 5 for d in tunes)
        children = [reader.program(d["program"]) for d in tunes if d["program"]]
        assert children and all(p.edit_kind == "tune" and p.parents for p in children)
        assert all(p.code != reader.program(p.parent_id).code for p in children)


def test_reflexion_round_revises_a_proposal_before_it_is_run(tmp_path):
    run_scripted(tmp_path, "r", 2, scripted_model(tmp_path, GRID, GOOD), "selection.islands=1",
                 "edits.reflexion_rounds=1", "executor='fresh'")
    with ArchiveReader(tmp_path / "r" / "archive.sqlite") as reader:
        child, seed = reader.program(2), reader.program(1)
        purposes = [r[0] for r in reader._conn.execute(
            "SELECT purpose FROM model_calls ORDER BY id")]
        event = reader.events("iteration")[0][2]
    assert purposes == ["propose", "reflexion"]
    assert "holes" in child.code and "[after reflexion round 1]" in child.edit_text
    assert child.score > seed.score and event["turns"] == 2


def test_separate_proposal_and_evaluation_pools_run_every_iteration_once(tmp_path):
    run_scripted(tmp_path, "p", 12, scripted_model(tmp_path, GOOD, GRID, "no code"),
                 "parallel.proposals=3", "parallel.evaluations=2", "edits.repair_turns=0")
    with ArchiveReader(tmp_path / "p" / "archive.sqlite") as reader:
        iterations = [d for _, _, d in reader.events("iteration", limit=100)]
        programs = {d["program"] for d in iterations} - {None}
        assert sorted(d["n"] for d in iterations) == list(range(12))
        assert len(programs) == reader.count() and reader.best().score > reader.program(1).score
        parallel = reader.campaign().config["parallel"]
        assert (parallel["proposals"], parallel["evaluations"]) == (3, 2)


def test_embedding_novelty_refuses_a_renamed_copy_through_a_real_embeddings_endpoint(tmp_path):
    renamed = GOOD.replace("centers", "points")  # text differs a lot, meaning does not
    with MockServer() as server:
        spec = ModelSpec(name="openai/mock-embed", api_base=server.base_url, max_retries=0)
        novelty = make_novelty(0.995, spec, 0.95)  # the mock's vectors: 0.96 for the copy
        original = Program(id=7, code=GOOD, code_hash="", language="python", parents=(),
                           inspirations=(), island=0, generation=1, model=None,
                           prompt_template=None, edit_kind=None, edit_text=None, diff=None,
                           created_at=0.0, status="ok", score=2.5, evaluator_version="v",
                           n_children=0)
        assert TextNovelty(0.995).check(renamed, [original]) == []  # the text check passes it
        with pytest.raises(NoveltyError, match=r"too similar to program 7 \(embedding") as exc:
            novelty.check(renamed, [original])
        assert exc.value.calls[0].purpose == "embedding" and exc.value.calls[0].tokens_in > 0
        calls = novelty.check(GRID, [original])  # a different program passes; 7 is cached
        assert len(server.requests) == 2 and len(server.requests[1]["body"]["input"]) == 1
        assert calls and calls[0].error is None
    # an endpoint that is down: the text check stands in, the failed call is recorded
    down = spec.model_copy(update={"api_base": "http://127.0.0.1:9/v1"})  # the discard port
    calls = make_novelty(0.995, down, 0.95).check(GRID, [original])
    assert len(calls) == 1 and "Connection" in calls[0].error
    with pytest.raises(EditError, match=r"too similar to program 7 \(similarity 1.000"):
        make_novelty(0.995, down, 0.95).check(GOOD, [original])


def test_prompts_get_the_best_program_and_a_diverse_one_from_another_island(tmp_path):
    run_scripted(tmp_path, "i", 10, scripted_model(tmp_path, GOOD, GRID), "executor='fresh'")
    campaign = Campaign.resume(tmp_path / "i", lambda event: None)
    try:
        plans = [p for p in map(campaign._plan, range(200, 240)) if p.op == "llm"]
        assert plans and all(1 <= len(p.inspirations) <= 2 for p in plans)
        paired = [p for p in plans if len(p.inspirations) == 2]
        assert paired and all(p.inspirations[1].island != p.island for p in paired)
        assert all(p.inspirations[1].code not in (p.parent.code, p.inspirations[0].code)
                   for p in paired)
        prompt = campaign.proposer.messages(paired[0])[1]["content"]
        assert prompt.count("A program with score") == 2 or paired[0].edit_format == "crossover"
    finally:
        campaign.close()


def _neighbour(pid: int, code: str) -> Program:
    return Program(id=pid, code=code, code_hash="", language="python", parents=(),
                   inspirations=(), island=0, generation=1, model=None, prompt_template=None,
                   edit_kind=None, edit_text=None, diff=None, created_at=0.0, status="ok",
                   score=1.0, evaluator_version="v", n_children=0)


def _table_program(rng: random.Random, rows: int = 70) -> str:
    """A 4 KB program that is mostly a table of digits, with a long repeated-character line:
    what made difflib's character matching take seconds per proposal."""
    table = ["    [" + ", ".join(f"{rng.randrange(10)}.{rng.randrange(10)}" for _ in range(10))
             + "]," for _ in range(rows)]
    return "\n".join(["# EVOLVE-BLOCK-START", "TABLE = [", *table, "]", "", "def f(x):",
                      "    x = x + 0  # " + "=" * 100,
                      "    return sum(sum(r) for r in TABLE) * x", "# EVOLVE-BLOCK-END", ""])


def _change_digits(code: str, rng: random.Random, k: int) -> str:
    chars = list(code)
    for i in rng.sample([i for i, c in enumerate(chars) if c.isdigit()], k):
        chars[i] = str((int(chars[i]) + 1) % 10)
    return "".join(chars)


def test_text_novelty_is_fast_on_tables_and_keeps_its_meaning():
    rng = random.Random(0)
    base = _table_program(rng)
    neighbours = [_neighbour(i, _change_digits(base, rng, k))
                  for i, k in enumerate([300, 200, 150, 100, 60])]
    novelty = TextNovelty(0.995)
    start = time.perf_counter()
    assert novelty.check(_change_digits(base, rng, 40), neighbours) == []  # 1% changed: novel
    assert time.perf_counter() - start < 0.5  # difflib took 1.6 s here
    with pytest.raises(EditError, match=r"too similar to program 9 \(similarity 0.99"):
        novelty.check(_change_digits(base, rng, 5), [_neighbour(9, base)])  # 0.1% changed
    # on a normal program the similarity is difflib's ratio
    edited = GOOD.replace("0.5", "0.45", 1)
    expected = difflib.SequenceMatcher(None, GOOD, edited, autojunk=False).ratio()
    with pytest.raises(EditError, match=rf"similarity {expected:.3f}"):
        TextNovelty(0.99).check(edited, [_neighbour(3, GOOD)])
    assert TextNovelty(0.99).check(GRID, [_neighbour(3, GOOD)]) == []


def test_alma_selection_favours_programs_above_the_seed_and_yields_to_untried_ones(writer):
    """ALMA's rule: sigmoid(score - seed's score) - 0.5 * log1p(children), then softmax at
    temperature 0.5."""
    from helpers import add_scored

    from discovery.config import Selection
    from discovery.search.selection import alma_weights, select_parent

    seed = add_scored(writer, 0.0, 0.6)
    good = add_scored(writer, 1.0, 0.9, parents=[seed])
    tried = add_scored(writer, 2.0, 0.95, parents=[seed])
    for value in range(3, 9):  # `tried` has been a parent six times
        add_scored(writer, float(value), 0.1, parents=[tried])
    config = Selection(strategy="alma", pool=3)
    top = writer.top_k(3)
    weights = dict(zip([p.id for p in top], alma_weights(writer, config, top), strict=True))
    assert weights[good] > weights[seed] and weights[good] > weights[tried]
    expected = 1 / (1 + math.exp(-0.3)) - 1 / (1 + math.exp(-0.35)) + 0.5 * math.log1p(6)
    assert math.log(weights[good] / weights[tried]) == pytest.approx(expected / 0.5)  # tau
    rng = random.Random(0)
    drawn = [select_parent(writer, config, 0, rng).id for _ in range(2000)]
    assert drawn.count(good) > drawn.count(tried) > 0


def test_adas_archive_is_every_evaluated_program_oldest_first_each_code_once(writer):
    from helpers import add_scored

    from discovery.search.selection import adas_archive

    seed = add_scored(writer, 0.0, 0.0)  # ADAS keeps designs that scored 0
    add_scored(writer, 1.0, None, status="crashed")  # ADAS skips one it could not evaluate
    copy = add_scored(writer, 0.0, 0.0, island=1)  # the seed of another island: a copy
    later = add_scored(writer, 2.0, 0.4, parents=[seed])
    better = add_scored(writer, 3.0, 0.9)
    assert [p.id for p in adas_archive(writer)] == [seed, later, better]
    assert copy not in [p.id for p in adas_archive(writer)]
