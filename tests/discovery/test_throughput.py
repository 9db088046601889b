"""Throughput of the loop when calls and evaluations take time (issue 17): slots are spent on
new work, not on repeats."""

from helpers import run_scripted

from archive import ArchiveReader
from discovery.doubles.mock_server import MockServer
from evaluators.task import load_task


def test_a_parallel_campaign_evaluates_its_seed_once(tmp_path, monkeypatch):
    """Until the seed is scored there is no parent to choose, so every plan would be the seed
    again, evaluated again: proposals + evaluations - 1 runs of it before the first model call.
    The loop waits for the seed's score instead."""
    monkeypatch.setenv("MOCK_KEY", "x")
    with MockServer() as server:  # answers no packing: the proposals fail, the seed is what counts
        run_scripted(tmp_path, "s", 12, f'models=[{{name="openai/mock-model", api_base='
                     f'"{server.base_url}", api_key_env="MOCK_KEY", max_retries=0}}]',
                     "parallel.proposals=4", "parallel.evaluations=2", "edits.repair_turns=0",
                     "selection.islands=2", "executor='fresh'")
        asked = len(server.requests)
    seed = load_task("circle_packing").seed_code
    with ArchiveReader(tmp_path / "s" / "archive.sqlite") as reader:
        programs = reader.programs(reader.find_by_hash(seed))
        runs = [p for p in programs if reader.evaluations(p.id)[-1].stage != "migrated"]
        iterations = [d for _, _, d in reader.events("iteration", limit=100)]
    assert len(runs) == 1 and len(programs) >= 2  # island 1's seed copies island 0's
    assert sorted(d["n"] for d in iterations) == list(range(12)) and asked >= 8
