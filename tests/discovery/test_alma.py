"""ALMA's loop (zksha/alma) as `selection.strategy = "alma"` runs it: parents drawn five at a
time without replacement at temperature 0.5 (core/memo_manager.py select_structure), and
the task-level agent budget a memory campaign takes when the user sets none."""

import math
import random
from collections import Counter

import numpy as np
import pytest

from discovery.config import Selection
from discovery.models.agent import AgentModelConfig, task_budget
from discovery.search.selection import AlmaSteps, alma_draw, alma_weights, select_parent


def test_alma_s_defaults_are_its_authors():
    config = Selection(strategy="alma")
    assert (config.alma_temperature, config.alma_parents, config.alma_visit_penalty) == \
        (0.5, 5, 0.5)


def test_a_step_draws_five_distinct_parents_then_the_next_step_draws_again(writer):
    from helpers import add_scored

    seed = add_scored(writer, 0.0, 0.3)
    ids = [seed, *(add_scored(writer, float(v), 0.3 + v / 20, parents=[seed])
                   for v in range(1, 8))]
    config = Selection(strategy="alma", islands=1)
    steps, rng = AlmaSteps(), random.Random(1)
    first = [select_parent(writer, config, 0, rng, steps=steps).id for _ in range(5)]
    assert len(set(first)) == 5 and set(first) <= set(ids)
    assert steps.waiting[0] == []  # the step is used up: the next plan starts a new draw
    second = [select_parent(writer, config, 0, rng, steps=steps).id for _ in range(5)]
    assert len(set(second)) == 5
    # over many steps the best programs lead the draws, the seed (no better than itself) trails
    counts = Counter(select_parent(writer, config, 0, rng, steps=steps).id for _ in range(2000))
    assert counts[ids[-1]] > counts[seed]


def test_a_step_of_fewer_programs_than_five_draws_each_once(writer):
    from helpers import add_scored

    ids = [add_scored(writer, float(v), 0.5) for v in range(3)]
    steps = AlmaSteps()
    drawn = [steps.next(writer, Selection(strategy="alma"), 0, random.Random(0),
                        writer.top_k(64, 0)).id for _ in range(3)]
    assert sorted(drawn) == sorted(ids)


def test_the_draw_without_replacement_is_numpy_s():
    """ALMA draws with np.random.choice(len, size=k, replace=False, p=softmax): the chance of
    each set of k matches numpy's (and the exact successive-draw figure)."""
    weights = [1.0, 2.0, 5.0, 0.5]
    p = np.array(weights) / sum(weights)
    rng, nprng, n = random.Random(3), np.random.default_rng(3), 40_000
    ours = Counter(frozenset(alma_draw([0, 1, 2, 3], weights, 2, rng)) for _ in range(n))
    theirs = Counter(frozenset(nprng.choice(4, size=2, replace=False, p=p).tolist())
                     for _ in range(n))
    for a in range(4):
        for b in range(a + 1, 4):
            exact = p[a] * p[b] / (1 - p[a]) + p[b] * p[a] / (1 - p[b])
            pair = frozenset((a, b))
            assert ours[pair] / n == pytest.approx(exact, abs=0.01)
            assert theirs[pair] / n == pytest.approx(exact, abs=0.01)


def test_the_weights_are_alma_s_final_score_over_tau(writer):
    """memo_manager: final_score = sigmoid(reward - no_memo_reward) - 0.5 * log1p(visits);
    probs = softmax(final_score / 0.5)."""
    from helpers import add_scored

    seed = add_scored(writer, 0.0, 0.2)
    child = add_scored(writer, 1.0, 0.7, parents=[seed])
    config = Selection(strategy="alma")
    top = writer.top_k(64, 0)
    weights = dict(zip([p.id for p in top], alma_weights(writer, config, top), strict=True))

    def final(reward: float, visits: int) -> float:
        return 1 / (1 + math.exp(-(reward - 0.2))) - 0.5 * math.log1p(visits)

    assert math.log(weights[child] / weights[seed]) == \
        pytest.approx((final(0.7, 0) - final(0.2, 1)) / 0.5)


def test_the_task_s_agent_budget_applies_only_where_the_user_set_none():
    assert task_budget(AgentModelConfig(name="simulator"), 50_000).calls_per_evaluation == 50_000
    assert task_budget(AgentModelConfig(name="simulator", calls_per_evaluation=300),
                       50_000).calls_per_evaluation == 300
    assert task_budget(AgentModelConfig(name="simulator"), None).calls_per_evaluation == 2000


def test_a_memory_campaign_stores_the_task_s_agent_budget_unless_the_user_set_one(tmp_path):
    """Campaign.start gives [agent_model] the task's agent_calls_per_evaluation where the user
    set no calls_per_evaluation, and stores it, so a resume runs with the same budget."""
    import json

    from discovery.config import load_config
    from discovery.loop.campaign import Campaign
    from evaluators.task import load_task

    task_budget_calls = load_task("gridworld_memory").config.agent_calls_per_evaluation
    assert task_budget_calls > 2000
    for name, extra, expected in [("d", [], task_budget_calls),
                                  ("u", ["agent_model.calls_per_evaluation=300"], 300)]:
        config = load_config("gridworld_memory", None, [
            f'runs_dir="{tmp_path}"', f'name="{name}"', 'agent_model={name="simulator"}',
            *extra])
        Campaign.start(config, lambda event: None).close()
        stored = json.loads((tmp_path / name / "campaign.json").read_text())
        assert stored["agent_model"]["calls_per_evaluation"] == expected
