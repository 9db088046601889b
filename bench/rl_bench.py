"""Training throughput of the PPO-objective task's trainer: environment steps per second of PPO
training (rollout and updates) for one run, for 64 runs stacked as one agent dimension, and for
a CleanRL-style single-agent torch PPO with the same hyper-parameters on the reference
environments (gymnasium's CartPole-v1 vector env; minatar's Breakout), measured side by side in
one process, one torch thread each; and the ceiling of any trainer of this network on this
core: the matrix products' floating-point work per step at one thread's measured GEMM rate.

    python bench/rl_bench.py           # CartPole and Breakout, ~2-4 minutes
    python bench/rl_bench.py --quick   # seconds (CI)
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluators" / "tasks" / "rl"
                       / "_shared"))
from ppo import Config, config_for, ppo_clip, train


class MinAtarVec:
    """minatar Breakout environments stepped one by one, reset when done (the minimal actions
    no-op, left, right), as a CleanRL script would wrap them."""

    def __init__(self, num_envs: int, seed: int):
        from minatar import Environment
        self.envs = [Environment("breakout") for _ in range(num_envs)]
        for i, env in enumerate(self.envs):
            env.seed(seed + i)
        self.actions = self.envs[0].minimal_action_set()

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

    def __init__(self, num_envs: int, seed: int):
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


def flop_per_step(obs_size: int, num_actions: int, config: Config) -> float:
    """Floating-point operations of PPO per environment step: the two MLPs' forward pass in
    the rollout, and per epoch a forward and a backward pass (about twice the forward) over
    each sample. Element-wise work is left out: this is the matrix products' floor."""
    h = config.hidden
    forward = sum(2 * (obs_size * h + h * h + h * out) for out in (num_actions, 1))
    return forward * (1 + 3 * config.update_epochs)


def gemm_rate(rows: int, inner: int, cols: int) -> float:
    """FLOP/s of one thread's float32 matrix product of the training's main shape."""
    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    for _ in range(10):
        a @ b
    repeats = 100
    begin = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * rows * inner * cols * repeats / (time.perf_counter() - begin)


def rate(steps: int, work, *args, **kwargs) -> float:
    """Environment steps per second of `work(*args, **kwargs)`, which takes `steps` steps."""
    begin = time.perf_counter()
    work(*args, **kwargs)
    return steps / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds: small budgets (CI)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    games = {"cartpole": (GymVec, 4, 2), "breakout": (MinAtarVec, 400, 3)}
    single, stacked_steps = (4096, 2048) if args.quick else (50_000, 25_000)
    agents = 8 if args.quick else 64
    ceilings = []
    print("| game | trainer | agents | env steps/s (1 thread) | vs CleanRL-style |")
    print("|---|---|---:|---:|---:|")
    for game, (vec, obs_size, num_actions) in games.items():
        config = config_for(game)
        steps = max(single, 2 * config.num_envs * config.num_steps)
        base = rate(steps, cleanrl_ppo, vec(config.num_envs, 0), obs_size, num_actions, config,
                    steps)
        one = rate(steps, train, game, ppo_clip, [0], steps, device="cpu")
        many_steps = max(stacked_steps, 2 * config.num_envs * config.num_steps)
        many = rate(many_steps * agents, train, game, ppo_clip, list(range(agents)), many_steps,
                    device="cpu")
        print(f"| {game} | CleanRL-style torch PPO (reference env) | 1 | {base:,.0f} | 1.00x |")
        print(f"| {game} | stacked-agent PPO (torch env) | 1 | {one:,.0f} | {one / base:.2f}x |")
        print(f"| {game} | stacked-agent PPO (torch env) | {agents} | {many:,.0f} | "
              f"{many / base:.2f}x |")
        minibatch = config.num_envs * config.num_steps // config.num_minibatches
        peak, flop = gemm_rate(minibatch, obs_size, config.hidden), \
            flop_per_step(obs_size, num_actions, config)
        ceilings.append(f"{game}: {flop / 1e6:.2f} MFLOP per env step in matrix products; one "
                        f"thread multiplies [{minibatch}, {obs_size}] x [{obs_size}, "
                        f"{config.hidden}] at {peak / 1e9:.0f} GFLOP/s, so no trainer of this "
                        f"network passes {peak / flop:,.0f} steps/s here "
                        f"({peak / flop / base:.1f}x the CleanRL-style rate)")
    print("\nCeilings (matrix products at one thread's measured rate, nothing else):")
    print("\n".join(f"- {line}" for line in ceilings))


if __name__ == "__main__":
    main()
