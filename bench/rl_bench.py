"""Training throughput of the PPO-objective task's trainer against a line-for-line CleanRL
replica: environment steps per second of PPO training (rollout and updates) for one run and for
64 runs stacked as one agent dimension, and for CleanRL's `ppo.py` (nn.Linear layers,
torch.optim.Adam) with the same hyper-parameters on the reference environments (gymnasium's
CartPole-v1 vector env; the `minatar` package's games, stepped one by one), one torch thread
each, in one process. The two sides alternate round by round (so a change of the machine's load
hits both), and each row is the median of its rounds; the load average is printed with them.

    python bench/rl_bench.py           # CartPole and the four MinAtar games, ~5-10 minutes
    python bench/rl_bench.py --quick   # seconds (CI)
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluators" / "tasks" / "rl"
                       / "_shared"))
import minatar_games  # noqa: F401 (registers Space Invaders, Freeway and Asterix)
from envs import make
from ppo import Config, config_for, ppo_clip, train

MINATAR = {"num_envs": 16, "learning_rate": 1e-3, "activation": "relu"}
"""The MinAtar hyper-parameters (Breakout's defaults; the held-out runs' overrides of the others
in task.toml)."""


class MinAtarVec:
    """A minatar game's environments stepped one by one, reset when done (the game's minimal
    actions, as many as the task's version has), as a CleanRL script would wrap them."""

    def __init__(self, game: str, num_envs: int, seed: int):
        from minatar import Environment
        self.envs = [Environment(game) for _ in range(num_envs)]
        for i, env in enumerate(self.envs):
            env.seed(seed + i)
        self.actions = self.envs[0].minimal_action_set()[:make(game).num_actions]

    def reset(self) -> np.ndarray:
        for env in self.envs:
            env.reset()
        return np.stack([env.state().reshape(-1) for env in self.envs]).astype(np.float32)

    def step(self, actions: np.ndarray):
        rewards, dones = np.zeros(len(self.envs)), np.zeros(len(self.envs), dtype=bool)
        for i, (env, a) in enumerate(zip(self.envs, actions, strict=True)):
            rewards[i], dones[i] = env.act(self.actions[a])
            if dones[i]:
                env.reset()
        return (np.stack([env.state().reshape(-1) for env in self.envs]).astype(np.float32),
                rewards, dones)


class GymVec:
    """gymnasium's synchronous vector env (CleanRL's setup)."""

    def __init__(self, game: str, num_envs: int, seed: int):
        import gymnasium as gym
        self.envs = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync")
        self.seed = seed

    def reset(self) -> np.ndarray:
        return self.envs.reset(seed=self.seed)[0]

    def step(self, actions: np.ndarray):
        obs, reward, terminated, truncated, _ = self.envs.step(actions)
        return obs, reward, terminated | truncated


def cleanrl_ppo(envs, obs_size: int, num_actions: int, config: Config, total_steps: int) -> None:
    """CleanRL's ppo.py training loop (nn.Linear layers, torch.optim.Adam, Categorical), with
    the hyper-parameters of the task's trainer."""
    def layer(n_in: int, n_out: int, std: float = 2 ** 0.5) -> nn.Linear:
        linear = nn.Linear(n_in, n_out)
        nn.init.orthogonal_(linear.weight, std)
        nn.init.zeros_(linear.bias)
        return linear
    act = nn.Tanh if config.activation == "tanh" else nn.ReLU
    h = config.hidden
    actor = nn.Sequential(layer(obs_size, h), act(), layer(h, h), act(),
                          layer(h, num_actions, 0.01))
    critic = nn.Sequential(layer(obs_size, h), act(), layer(h, h), act(), layer(h, 1, 1.0))
    params = [*actor.parameters(), *critic.parameters()]
    optimizer = torch.optim.Adam(params, lr=config.learning_rate, eps=config.adam_eps)
    n, t_len = config.num_envs, config.num_steps
    batch = n * t_len
    obs = torch.zeros(t_len, n, obs_size)
    actions, logprobs, rewards, dones, values = (torch.zeros(t_len, n) for _ in range(5))
    next_obs = torch.tensor(envs.reset())
    for update in range(1, total_steps // batch + 1):
        optimizer.param_groups[0]["lr"] = config.learning_rate * (
            1.0 - (update - 1) / (total_steps // batch))
        for step in range(t_len):
            obs[step] = next_obs
            with torch.no_grad():
                dist = torch.distributions.Categorical(logits=actor(next_obs))
                action = dist.sample()
                logprobs[step], values[step] = dist.log_prob(action), critic(next_obs)[:, 0]
            actions[step] = action
            o, r, d = envs.step(action.numpy())
            next_obs, rewards[step], dones[step] = torch.tensor(o), torch.tensor(r), \
                torch.tensor(d, dtype=torch.float32)
        with torch.no_grad():
            next_value = critic(next_obs)[:, 0]
            advantages, last = torch.zeros_like(rewards), 0.0
            for t in reversed(range(t_len)):
                following = next_value if t == t_len - 1 else values[t + 1]
                delta = rewards[t] + config.gamma * following * (1 - dones[t]) - values[t]
                last = delta + config.gamma * config.gae_lambda * (1 - dones[t]) * last
                advantages[t] = last
            returns = advantages + values
        b_obs, b_actions = obs.reshape(batch, obs_size), actions.reshape(batch)
        b_logprobs, b_adv = logprobs.reshape(batch), advantages.reshape(batch)
        b_returns, b_values = returns.reshape(batch), values.reshape(batch)
        for _ in range(config.update_epochs):
            perm = torch.randperm(batch)
            for start in range(0, batch, batch // config.num_minibatches):
                idx = perm[start:start + batch // config.num_minibatches]
                dist = torch.distributions.Categorical(logits=actor(b_obs[idx]))
                log_ratio = dist.log_prob(b_actions[idx]) - b_logprobs[idx]
                ratio = log_ratio.exp()
                adv = (b_adv[idx] - b_adv[idx].mean()) / (b_adv[idx].std() + 1e-8)
                eps = torch.full_like(ratio, config.clip_coef)
                pg_loss = -(ratio * adv - ppo_clip(ratio, adv, eps, log_ratio, eps)).mean()
                newvalue = critic(b_obs[idx])[:, 0]
                clipped = b_values[idx] + (newvalue - b_values[idx]).clamp(-config.clip_coef,
                                                                           config.clip_coef)
                v_loss = 0.5 * torch.maximum((newvalue - b_returns[idx]) ** 2,
                                             (clipped - b_returns[idx]) ** 2).mean()
                loss = pg_loss - config.ent_coef * dist.entropy().mean() + config.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()


def rate(steps: int, work, *args, **kwargs) -> float:
    """Environment steps per second of `work(*args, **kwargs)`, which takes `steps` steps."""
    begin = time.perf_counter()
    work(*args, **kwargs)
    return steps / (time.perf_counter() - begin)


def load() -> str:
    return "{:.1f}, {:.1f}, {:.1f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds: small budgets (CI)")
    parser.add_argument("--games", nargs="*", default=["cartpole", "breakout", "asterix",
                                                       "freeway", "space_invaders"])
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternations of the two sides (each row: the median)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    single, stacked_steps = (4096, 4096) if args.quick else (20_480, 8192)
    agents = 8 if args.quick else 64
    rounds = 1 if args.quick else args.rounds
    print(f"load average (1, 5, 15 min) at the start: {load()} on {os.cpu_count()} cores\n")
    print("| game | trainer | agents | env steps/s (1 thread) | vs CleanRL replica |")
    print("|---|---|---:|---:|---:|")
    for game in args.games:
        env = make(game)
        vec = GymVec if game == "cartpole" else MinAtarVec
        config = config_for(game) if game == "cartpole" else config_for(game, **MINATAR)
        batch = config.num_envs * config.num_steps
        steps, many_steps = max(single, 2 * batch), max(stacked_steps, 2 * batch)
        base, one, many = [], [], []
        for _ in range(rounds):  # the two sides alternate: a change of load hits both
            base.append(rate(steps, cleanrl_ppo, vec(game, config.num_envs, 0), env.obs_size,
                             env.num_actions, config, steps))
            one.append(rate(steps, train, game, ppo_clip, [0], steps, config, device="cpu"))
            many.append(rate(many_steps * agents, train, game, ppo_clip, list(range(agents)),
                             many_steps, config, device="cpu"))
        base_s, one_s, many_s = (statistics.median(x) for x in (base, one, many))
        print(f"| {game} | CleanRL replica (reference env) | 1 | {base_s:,.0f} | 1.00x |\n"
              f"| {game} | stacked-agent PPO (torch env) | 1 | {one_s:,.0f} | "
              f"{one_s / base_s:.2f}x |\n"
              f"| {game} | stacked-agent PPO (torch env) | {agents} | {many_s:,.0f} | "
              f"{many_s / base_s:.2f}x |", flush=True)
    print(f"\nload average at the end: {load()}; env steps/s, one torch thread, median of "
          f"{rounds} alternating round(s)")


if __name__ == "__main__":
    main()
