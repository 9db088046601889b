"""PPO with stacked agents: many independent training runs as one leading `agents` dimension.

CleanRL's `ppo.py` (https://docs.cleanrl.dev/rl-algorithms/ppo/), read top to bottom, with
three changes:

1. Every tensor has a leading agent dimension: the networks are weights [agents, in, out]
   applied with `torch.baddbmm`, Adam keeps its moments per agent, the gradient norm is clipped
   per agent, and an agent whose loss or gradient is not finite skips that update alone (the
   per-agent NaN guard; the skips are counted). Agents share nothing, so one process trains
   candidates x seeds at once; on this machine's CPU that cuts the cost per run about 3x.
   Before that guard, the drift's terms are guarded per element (FiniteTerms): a sample whose
   drift value or drift gradient is not finite is masked and counted, and the rest of its
   minibatch still trains.
2. All randomness (init, env resets, actions, minibatches) comes from each agent's key and a
   counter (rng.py): a run gives the same result whichever agents share its batch.
3. The policy loss is the LPO form (Lu et al. 2022, https://arxiv.org/abs/2210.05639),
   `-(ratio * adv - drift).mean()`, with `drift(ratio, adv, eps, log_ratio, progress)` given by
   the caller (PPO-clip is `relu((ratio - ratio.clamp(1 - eps, 1 + eps)) * adv)`).

The step has no sync point: nothing is read back to the host until the run ends, so the same
code runs on CUDA (the default device when one is visible).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from envs import VecEnv, make
from rng import agent_keys, seed_of, uniform

Drift = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
                 torch.Tensor]


@dataclass(frozen=True)
class Config:
    """PPO's hyper-parameters: CleanRL's `ppo.py` defaults, which purejaxrl uses for CartPole
    too. They are fixed by the task: a candidate changes the objective, not these."""

    num_envs: int = 4
    """Parallel environments per agent."""
    num_steps: int = 128
    """Steps per environment per rollout (one update per rollout)."""
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    """Linear decay of the learning rate to 0 over training."""
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 4
    norm_adv: bool = True
    """Advantages normalised per minibatch (per agent)."""
    clip_coef: float = 0.2
    """Passed to the drift as `eps`; also the value-loss clip."""
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    adam_eps: float = 1e-5
    hidden: int = 64
    activation: str = "tanh"
    reward_scale: float = 1.0
    """Rewards are multiplied by this for learning (returns are reported unscaled): Pendulum's
    costs reach -16 a step, and CleanRL's continuous PPO normalises rewards for that reason."""


CONFIGS = {
    "cartpole": Config(),
    "acrobot": Config(),
    # MinAtar: more environments per agent and ReLU, as purejaxrl's MinAtar PPO
    "breakout": Config(num_envs=16, learning_rate=1e-3, activation="relu"),
    # CleanRL's ppo_continuous_action.py: 2048 steps per update (8 envs x 256 steps, so every
    # rollout sees episodes end), 10 epochs of 32 minibatches, no entropy bonus; a fixed reward
    # scale instead of its normaliser, and a learning rate of 1e-3 (its 3e-4 barely moves in a
    # CPU budget of 200k steps: measured final returns -970 against -180 to -860)
    "pendulum": Config(num_envs=8, num_steps=256, learning_rate=1e-3, num_minibatches=32,
                       update_epochs=10, ent_coef=0.0, reward_scale=0.1),
}


def config_for(env_name: str, **overrides) -> Config:
    """The task's hyper-parameters for a game, with held-out shifts applied (`overrides`)."""
    return replace(CONFIGS.get(env_name, Config()), **overrides)


def ppo_clip(ratio, adv, eps, log_ratio, progress):
    """The PPO-clip drift (Schulman et al. 2017 in LPO form): the anchor the task scores by."""
    return torch.relu((ratio - ratio.clamp(1 - eps, 1 + eps)) * adv)


def stacked(drifts: list[Drift], seeds_each: int) -> Drift:
    """Several candidates in one run: drift i applies to agents [i * seeds_each, (i + 1) *
    seeds_each), so candidates x seeds train as one agent dimension (pass the seeds list
    repeated once per candidate: paired seeds)."""
    def drift(*inputs: torch.Tensor) -> torch.Tensor:
        return torch.cat([d(*(x[i * seeds_each:(i + 1) * seeds_each] for x in inputs))
                          for i, d in enumerate(drifts)])
    return drift


def _ones(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where a 0/1 batch [groups, rows, size] is 1, row by row: (group * size + column, in
    order; each row's start in that list, for the groups * rows rows)."""
    groups, rows, size = obs.shape
    row, col = obs.reshape(groups * rows, size).nonzero(as_tuple=True)
    counts = torch.bincount(row, minlength=groups * rows)
    return (row // rows) * size + col, counts.cumsum(0) - counts


class Board:
    """A batch of 0/1 observations [agents, rows, size] (a MinAtar board) kept as the
    positions of its ones. A first layer on a board is a sum of the weight rows where the board
    is 1 (`F.embedding_bag`): the same product as x @ w (the ones multiply exactly, the zeros
    add nothing), summed in another order, in about a tenth of the work (Breakout: about 33
    ones among 400 inputs). Its weight gradient is the same kind of sum the other way round:
    for each input, the gradients of the rows where it is 1, in row order (the transposed
    board's ones). Each sum runs over one agent's numbers in a fixed order, so an agent's
    results never depend on which agents share the batch (torch's own embedding_bag backward
    sorts all indices together and does: measured).

    `nonzero` reads the number of ones back to the host: the trainer uses boards on the CPU
    only, where that costs nothing."""

    def __init__(self, obs: torch.Tensor):
        self.obs = obs
        self.agents, self.rows, self.size = obs.shape
        self.indices, self.offsets = _ones(obs)
        self._transposed: tuple[torch.Tensor, torch.Tensor] | None = None

    def transposed(self) -> tuple[torch.Tensor, torch.Tensor]:
        """For each agent's input, the rows where it is 1 (agent * rows + row, in order), and
        each input's start in that list: the weight gradient's sums, found once per board."""
        if self._transposed is None:
            self._transposed = _ones(self.obs.transpose(1, 2).contiguous())
        return self._transposed

    def first_layer(self, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """bias + board @ weight per agent: [agents, rows, out] from weight [agents, size, out]
        and bias [agents, 1, out]."""
        out = _BoardProduct.apply(weight.reshape(-1, weight.shape[-1]), self)
        return out.view(self.agents, self.rows, -1) + bias


class _BoardProduct(torch.autograd.Function):
    """board @ weight as row sums, with the gradient as input sums (see Board)."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, board: Board) -> torch.Tensor:
        ctx.board = board
        return F.embedding_bag(board.indices, weight, board.offsets, mode="sum")

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        indices, offsets = ctx.board.transposed()
        return F.embedding_bag(indices, grad.contiguous(), offsets, mode="sum"), None


class Networks:
    """Actor and critic MLPs (two hidden layers), one set of weights per agent, CleanRL's init:
    orthogonal with gain sqrt(2), 0.01 for the policy head, 1 for the value head. The policy is
    categorical over a discrete game's actions, or (a continuous game: `action_dim` > 0) a
    Gaussian whose mean is the policy head and whose log standard deviation is a learned
    vector per agent, starting at 0 (CleanRL's `ppo_continuous_action.py`)."""

    def __init__(self, keys: torch.Tensor, obs_size: int, num_actions: int, config: Config,
                 action_dim: int = 0):
        h = config.hidden
        shapes = [(obs_size, h, math.sqrt(2)), (h, h, math.sqrt(2))]
        self.act = torch.tanh if config.activation == "tanh" else torch.relu
        self.continuous = action_dim > 0
        generators = [torch.Generator().manual_seed(s) for s in seed_of(keys, "init")]
        self.params: list[torch.Tensor] = []
        for head, gain in ((action_dim or num_actions, 0.01), (1, 1.0)):
            for n_in, n_out, std in [*shapes, (h, head, gain)]:
                weight = torch.stack([torch.nn.init.orthogonal_(
                    torch.empty(n_out, n_in), std, generator=g).T for g in generators])
                self.params += [weight.to(keys.device).requires_grad_(),
                                torch.zeros(len(keys), 1, n_out, device=keys.device,
                                            requires_grad=True)]
        if self.continuous:
            self.params.append(torch.zeros(len(keys), 1, action_dim, device=keys.device,
                                           requires_grad=True))

    def _mlp(self, x: torch.Tensor | Board, params: list[torch.Tensor]) -> torch.Tensor:
        w1, b1, w2, b2, w3, b3 = params
        x = self.act(x.first_layer(w1, b1) if isinstance(x, Board) else torch.baddbmm(b1, x, w1))
        x = self.act(torch.baddbmm(b2, x, w2))
        if w3.shape[-1] == 1:
            # one output (the value, a 1-d action's mean): bmm's rounding there changes with
            # the number of agents (measured on CPU: 1e-5), a product and a sum's does not
            return (x * w3.transpose(1, 2)).sum(-1, keepdim=True) + b3
        return torch.baddbmm(b3, x, w3)

    def logits(self, obs: torch.Tensor | Board) -> torch.Tensor:
        """[agents, batch, actions] from obs [agents, batch, obs_size] (or their Board): a
        discrete game's logits, a continuous game's action mean."""
        return self._mlp(obs, self.params[:6])

    def value(self, obs: torch.Tensor | Board) -> torch.Tensor:
        return self._mlp(obs, self.params[6:12])[..., 0]

    def sample(self, obs: torch.Tensor | Board, keys: torch.Tensor, counter: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(action, its log-probability) for each agent and environment, from each agent's own
        uniforms: Gumbel-max for a categorical, Box-Muller normals for a Gaussian."""
        out = self.logits(obs)
        if self.continuous:
            u = uniform(keys, "action", counter, (*out.shape[1:], 2)).clamp(min=2**-25)
            normal = torch.sqrt(-2 * torch.log(u[..., 0])) * torch.cos(2 * math.pi * u[..., 1])
            action = out + self.params[12].exp() * normal
            return action, self.log_prob_entropy(out, action)[0]
        u = uniform(keys, "action", counter, out.shape[1:]).clamp(min=2**-25)
        action = (out - torch.log(-torch.log(u))).argmax(-1)
        return action, self.log_prob_entropy(out, action)[0]

    def log_prob_entropy(self, out: torch.Tensor, action: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(action) and the policy's entropy [agents, batch] from the policy head's
        output `out`."""
        if self.continuous:
            log_std = self.params[12]
            z = (action - out) / log_std.exp()
            log_prob = -0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)
            entropy = (0.5 + 0.5 * math.log(2 * math.pi) + log_std).expand_as(out)
            return log_prob.sum(-1), entropy.sum(-1)
        log_probs = torch.log_softmax(out, -1)
        log_prob = log_probs.gather(-1, action[..., None])[..., 0]
        return log_prob, -(log_probs.exp() * log_probs).sum(-1)


class Adam:
    """torch.optim.Adam's update, per agent: moments and step counts [agents, ...], and an
    agent whose gradient is not finite keeps its weights and moments (the NaN guard)."""

    def __init__(self, params: list[torch.Tensor], eps: float, betas=(0.9, 0.999)):
        self.params, self.eps, self.betas = params, eps, betas
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = torch.zeros(len(params[0]), device=params[0].device)

    @torch.no_grad()
    def step(self, lr: float, max_grad_norm: float, ok: torch.Tensor) -> torch.Tensor:
        """Clip each agent's gradient to `max_grad_norm` (torch's clip_grad_norm_ rule) and
        step the agents where `ok` [agents] and the norm is finite; returns that mask."""
        grads = [p.grad for p in self.params]
        # added one tensor at a time: a sum over a stacked dimension would change its order
        # with the number of agents (and so the last bits of each agent's norm)
        norm = sum(g.flatten(1).pow(2).sum(1) for g in grads).sqrt()
        ok = ok & torch.isfinite(norm)
        scale = (max_grad_norm / (norm + 1e-6)).clamp(max=1.0)
        self.t += ok
        beta1, beta2 = self.betas
        correction1 = 1 - beta1 ** self.t.clamp(min=1)
        correction2 = 1 - beta2 ** self.t.clamp(min=1)
        # an agent that does not step gets factors 1 and a step of 0, so one pass per moment
        # leaves its weights and moments as they were, without a copy through torch.where
        decay1, decay2 = torch.where(ok, beta1, 1.0), torch.where(ok, beta2, 1.0)
        step_size = torch.where(ok, lr / correction1, 0.0)
        root2 = correction2.sqrt()
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            shape = (-1, *[1] * (p.dim() - 1))
            g = torch.where(ok.view(shape), g * scale.view(shape), 0.0)
            m.mul_(decay1.view(shape)).add_(g * (1 - beta1))
            v.mul_(decay2.view(shape)).add_(g * (1 - beta2) * g)
            denom = v.sqrt().div_(root2.view(shape)).add_(self.eps)
            p.sub_(step_size.view(shape) * m / denom)
            p.grad = None
        return ok


class FiniteTerms:
    """The element-wise NaN guard: the drift is element-wise, so one sample's non-finite term
    (a `sqrt` of a negative behind a `torch.where`, whose gradient is NaN although its value is
    not) must cost that sample, not the agent's whole minibatch (it cost 646 of 3,072 updates
    on the hurdle before). A non-finite drift value is zeroed, and so is a non-finite element
    of the gradient reaching `ratio` or `log_ratio` (that sample's policy gradient); `masked()`
    counts the samples so masked per agent, each once, on the device with no host sync. Where
    every element is finite both are `torch.where`s that return their input's values: no bit
    of training changes."""

    def __init__(self, agents: int, device: str | torch.device):
        self.counts = torch.zeros(agents, device=device)
        self.bad: torch.Tensor | None = None
        """The current minibatch's masked samples [agents, minibatch], counted at the next."""

    def __call__(self, drift: Drift, ratio: torch.Tensor, adv: torch.Tensor, eps: torch.Tensor,
                 log_ratio: torch.Tensor, progress: torch.Tensor) -> torch.Tensor:
        self._count()
        for x in (ratio, log_ratio):
            if x.requires_grad:
                x.register_hook(self._finite)
        return self._finite(drift(ratio, adv, eps, log_ratio, progress))

    def _finite(self, values: torch.Tensor) -> torch.Tensor:
        bad = ~torch.isfinite(values)
        self.bad = bad if self.bad is None else self.bad | bad
        return torch.where(bad, 0.0, values)

    def _count(self) -> None:
        if self.bad is not None:
            self.counts += self.bad.sum(-1)
            self.bad = None

    def masked(self) -> torch.Tensor:
        """Samples masked per agent so far."""
        self._count()
        return self.counts


@dataclass
class Result:
    curves: np.ndarray
    """[agents, updates]: mean return of the episodes that ended during each rollout (NaN where
    none ended)."""
    skipped: np.ndarray
    """[agents]: minibatch updates the per-agent NaN guard skipped (a non-finite loss or
    gradient norm left after FiniteTerms)."""
    masked: np.ndarray
    """[agents]: samples whose drift term FiniteTerms masked (a non-finite value, or a
    non-finite gradient element at ratio or at log_ratio)."""
    steps_per_update: int
    weights: np.ndarray
    """[agents]: the sum of |w| over each agent's final weights, in float64: a fingerprint
    (batch-independence tests compare it exactly)."""


def train(env_name: str, drift: Drift, seeds: list[int], total_steps: int,
          config: Config | None = None, device: str | None = None, learn: bool = True) -> Result:
    """Train one agent per seed for `total_steps` environment steps each. `learn=False` runs the
    initial policy (near uniform: the policy head starts at 0.01 scale) without updates: the
    task's "random" anchor, from the same code and seeds."""
    torch.set_num_threads(1)  # one thread per process: scores and speed independent of cores
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    config = config or config_for(env_name)
    env = make(env_name)
    keys = agent_keys(seeds, device)
    agents, n, t_len = len(seeds), config.num_envs, config.num_steps
    batch = n * t_len
    minibatch = batch // config.num_minibatches
    num_updates = max(1, total_steps // batch)
    nets = Networks(keys, env.obs_size, env.num_actions, config, env.action_dim)
    adam = Adam(nets.params, config.adam_eps)
    vec = VecEnv(env, keys, n)
    next_obs = vec.reset()
    # 0/1 observations go through the first layer as Boards on the CPU (a GPU multiplies the
    # dense boards faster than it finds their ones, and finding them would sync with the host)
    boards = env.board and torch.device(device).type == "cpu"
    def view(x: torch.Tensor) -> torch.Tensor | Board:
        return Board(x) if boards else x
    obs = torch.zeros(t_len, agents, n, env.obs_size, device=device,
                      dtype=torch.bool if boards else torch.float32)
    actions = torch.zeros(t_len, agents, n, env.action_dim, device=device) if env.action_dim \
        else torch.zeros(t_len, agents, n, dtype=torch.long, device=device)
    logprobs, rewards, values = (torch.zeros(t_len, agents, n, device=device) for _ in range(3))
    dones = torch.zeros(t_len, agents, n, dtype=torch.bool, device=device)
    curves = torch.full((agents, num_updates), math.nan, device=device)
    skipped = torch.zeros(agents, device=device)
    guard = FiniteTerms(agents, device)
    eps = torch.full((agents, minibatch), config.clip_coef, device=device)

    for update in range(1, num_updates + 1):
        progress = (update - 1) / num_updates
        lr = config.learning_rate * ((1.0 - progress) if config.anneal_lr else 1.0)
        ended = torch.zeros(agents, device=device)
        returns_sum = torch.zeros(agents, device=device)

        # rollout: actions drawn from each agent's own uniforms
        with torch.no_grad():
            for step in range(t_len):
                obs[step] = next_obs
                seen = view(next_obs)
                values[step] = nets.value(seen)
                action, logprobs[step] = nets.sample(seen, keys, vec.counter)
                actions[step] = action
                out = vec.step(action)
                rewards[step], dones[step], next_obs = (out.reward * config.reward_scale,
                                                        out.done, out.obs)
                ended += out.done.sum(-1)
                returns_sum += out.episode_return.sum(-1)
            curves[:, update - 1] = torch.where(ended > 0, returns_sum / ended.clamp(min=1),
                                                math.nan)
            if not learn:
                continue

            # generalised advantage estimation; no bootstrap past a done (CleanRL)
            next_value = nets.value(view(next_obs))
            advantages = torch.zeros_like(rewards)
            last = torch.zeros(agents, n, device=device)
            for t in reversed(range(t_len)):
                following = next_value if t == t_len - 1 else values[t + 1]
                nonterminal = (~dones[t]).float()
                delta = rewards[t] + config.gamma * following * nonterminal - values[t]
                last = delta + config.gamma * config.gae_lambda * nonterminal * last
                advantages[t] = last
            returns = advantages + values

        # flatten the rollout to [agents, batch, ...]
        def flat(x: torch.Tensor) -> torch.Tensor:
            return x.transpose(0, 1).reshape(agents, batch, *x.shape[3:])
        b_obs, b_actions, b_logprobs = flat(obs), flat(actions), flat(logprobs)
        b_adv, b_returns, b_values = flat(advantages), flat(returns), flat(values)
        rows = torch.arange(agents, device=device)[:, None]
        progress_t = torch.full((agents, minibatch), progress, device=device)

        for epoch in range(config.update_epochs):
            order = uniform(keys, "shuffle", update * config.update_epochs + epoch, (batch,))
            perm = order.argsort(-1)
            for start in range(0, batch, minibatch):
                idx = perm[:, start:start + minibatch]
                seen = view(b_obs[rows, idx])
                newlogprob, entropy = nets.log_prob_entropy(nets.logits(seen),
                                                            b_actions[rows, idx])
                newvalue = nets.value(seen)
                log_ratio = newlogprob - b_logprobs[rows, idx]
                ratio = log_ratio.exp()
                adv = b_adv[rows, idx]
                if config.norm_adv:
                    adv = (adv - adv.mean(-1, keepdim=True)) / (adv.std(-1, keepdim=True) + 1e-8)

                pg_loss = -(ratio * adv - guard(drift, ratio, adv, eps, log_ratio, progress_t)
                            ).mean(-1)

                ret, old_value = b_returns[rows, idx], b_values[rows, idx]
                v_loss = (newvalue - ret) ** 2
                if config.clip_vloss:
                    clipped = old_value + (newvalue - old_value).clamp(-config.clip_coef,
                                                                       config.clip_coef)
                    v_loss = torch.maximum(v_loss, (clipped - ret) ** 2)
                loss = (pg_loss - config.ent_coef * entropy.mean(-1)
                        + config.vf_coef * 0.5 * v_loss.mean(-1))
                # agents are independent: the sum's gradient is each agent's own
                finite = torch.isfinite(loss)
                torch.where(finite, loss, 0.0).sum().backward()
                ok = adam.step(lr, config.max_grad_norm, finite)
                skipped += ~ok

    weights = sum(p.detach().double().abs().flatten(1).sum(1) for p in nets.params)
    return Result(curves.cpu().numpy(), skipped.cpu().numpy(), guard.masked().cpu().numpy(), batch,
                  weights.cpu().numpy())
