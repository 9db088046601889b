"""The continuous-action game and the Gaussian policy: gymnasium's Pendulum-v1 step by step
against ours, and the stacked trainer's Gaussian head (log-probabilities and entropy as
torch.distributions.Normal computes them, actions drawn from each agent's own numbers)."""

import sys

import numpy as np
import pytest
import torch

from evaluators.task import TASKS_DIR

gym = pytest.importorskip("gymnasium")

sys.path.insert(0, str(TASKS_DIR / "rl" / "_shared"))
from envs import Pendulum, VecEnv  # noqa: E402
from ppo import Networks, config_for, ppo_clip, train  # noqa: E402
from rng import agent_keys  # noqa: E402


def test_pendulum_matches_gymnasium_step_by_step():
    ours, reference = Pendulum(), gym.make("Pendulum-v1").unwrapped
    reference.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(4):
        state = {k: v[None, None] for k, v in ours.reset_state(
            torch.tensor(rng.random(ours.reset_draws))).items()}
        reference.state = np.array([float(state["th"]), float(state["thdot"])])
        for _ in range(ours.max_steps):
            action = (rng.random(1) * 6 - 3).astype(np.float32)  # beyond the bounds too
            obs, reward, terminated, _, _ = reference.step(action)
            state, our_reward, our_terminated = ours.transition(
                state, torch.tensor(action)[None, None])
            np.testing.assert_allclose(ours.observe(state)[0, 0].numpy(), obs, atol=1e-6)
            assert float(our_reward) == pytest.approx(reward, abs=1e-5)
            assert not bool(our_terminated) and not terminated


def test_the_gaussian_policy_is_torchs_normal_per_agent():
    keys = agent_keys([3, 4])
    nets = Networks(keys, 3, 0, config_for("pendulum"), action_dim=1)
    with torch.no_grad():
        nets.params[12].copy_(torch.tensor([[[-0.5]], [[0.3]]]))
    obs = torch.randn(2, 5, 3)
    action, log_prob = nets.sample(obs, keys, 7)
    mean = nets.logits(obs)
    normal = torch.distributions.Normal(mean, nets.params[12].exp())
    torch.testing.assert_close(log_prob, normal.log_prob(action).sum(-1))
    _, entropy = nets.log_prob_entropy(mean, action)
    torch.testing.assert_close(entropy, normal.entropy().sum(-1))
    alone, _ = Networks(agent_keys([4]), 3, 0, config_for("pendulum"), 1).sample(
        obs[1:], agent_keys([4]), 7)
    assert action.shape == (2, 5, 1) and not torch.equal(action[0], action[1])
    # agent 4's normal draws are its own: alone (log-std 0) it moves off the same mean by them
    noise = (action[1] - mean[1]) / nets.params[12][1].exp()
    torch.testing.assert_close(alone[0], mean[1] + noise)


def test_a_pendulum_run_is_the_same_alone_or_stacked():
    config = config_for("pendulum")
    steps = 4 * config.num_envs * config.num_steps
    both = train("pendulum", ppo_clip, [0, 1], steps)
    alone = train("pendulum", ppo_clip, [1], steps)
    assert both.weights[1] == alone.weights[0]
    assert np.array_equal(both.curves[1], alone.curves[0], equal_nan=True)
    assert (both.skipped == 0).all() and np.isfinite(both.curves).all()
    env = VecEnv(Pendulum(), agent_keys([0]), 2)
    env.reset()
    assert env.step(torch.full((1, 2, 1), 5.0)).reward.shape == (1, 2)
