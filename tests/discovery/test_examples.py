"""Every example campaign config loads through the real config loader, so none rots."""

from pathlib import Path

import pytest

from discovery.config import load_config
from evaluators.task import task_names

CAMPAIGNS = Path(__file__).parents[2] / "examples" / "campaigns"


@pytest.mark.parametrize("path", sorted(CAMPAIGNS.glob("*.toml")), ids=lambda p: p.name)
def test_example_campaign_configs_load(path):
    config = load_config(None, path)
    assert config.task in task_names()


def test_every_shipped_math_and_games_task_has_three_budgets_and_a_hosted_model_example():
    names = {p.stem for p in CAMPAIGNS.glob("*.toml")}
    for task in ("circle_packing", "function_minimisation", "cfr", "psro"):
        assert {f"{task}_{size}" for size in ("small", "medium", "large")} <= names
    hosted = load_config(None, CAMPAIGNS / "hosted_model.toml").models
    assert all("/" in m.name and m.api_key_env and m.edit_mix for m in hosted)
