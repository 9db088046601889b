"""Batched torch environments, vectorised over [agents, envs], for the stacked-agent trainer:
CartPole-v1, Acrobot-v1 and Pendulum-v1 (continuous actions) from gymnasium, MinAtar Breakout.

Each environment is three pure functions on a state (a dict of tensors [agents, envs, ...]):
`reset_state(u)` builds start states from uniform numbers, `transition(state, action)` is the
reference implementation's step, `observe(state)` its observation. `VecEnv` adds what every
task needs around them: per-agent counter-based randomness (rng.py), sticky actions, the time
limit, and automatic reset through `torch.where`. Nothing in a step reads a value back to the
host (no boolean-mask indexing, no `.any()` or `.item()`), so the same code runs on a GPU and
can be captured in a CUDA graph.

Every game is cross-checked step by step against its reference (gymnasium, the `minatar`
package) in tests/evaluators/tasks/test_rl_envs.py: same start state and actions, same
observations, rewards and terminations. Classic-control physics runs in float64 as gymnasium's
does (Acrobot is chaotic: float32 drifts from the reference within an episode); observations
are float32.
"""

import functools
import math
from dataclasses import dataclass

import torch
from rng import uniform

State = dict[str, torch.Tensor]


class Env:
    """A game: its sizes, its time limit and its three pure functions."""

    name: str
    obs_size: int
    num_actions: int
    """Discrete actions 0..num_actions-1; 0 for a continuous game."""
    action_dim: int = 0
    """A continuous game's actions: vectors of this size (the policy is a Gaussian)."""
    max_steps: int
    """Episodes are truncated after this many steps (gymnasium's TimeLimit)."""
    reset_draws: int
    """Uniform numbers a start state takes."""
    sticky_prob: float = 0.0
    """Probability that the previous action repeats instead of the chosen one (MinAtar's 0.1)."""
    board: bool = False
    """Observations are 0/1 (MinAtar's boards): the trainer's first layer sums the weight rows
    where they are 1 instead of multiplying (ppo.Board)."""

    def reset_state(self, u: torch.Tensor) -> State:
        raise NotImplementedError

    def transition(self, state: State, action: torch.Tensor
                   ) -> tuple[State, torch.Tensor, torch.Tensor]:
        """(next state, reward, terminated) for every environment at once."""
        raise NotImplementedError

    def observe(self, state: State) -> torch.Tensor:
        raise NotImplementedError


class CartPole(Env):
    """gymnasium CartPole-v1 (Barto, Sutton & Anderson 1983): push a cart left or right to keep
    a pole upright; +1 per step, 500 steps at most."""

    name, obs_size, num_actions, max_steps, reset_draws = "cartpole", 4, 2, 500, 4
    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def reset_state(self, u: torch.Tensor) -> State:
        return {"s": u.to(torch.float64) * 0.1 - 0.05}

    def transition(self, state, action):
        x, x_dot, theta, theta_dot = state["s"].unbind(-1)
        total_mass = self.masspole + self.masscart
        polemass_length = self.masspole * self.length
        force = torch.where(action == 1, self.force_mag, -self.force_mag)
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        temp = (force + polemass_length * theta_dot**2 * sintheta) / total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta**2 / total_mass))
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        # gymnasium's default "euler" integrator: positions use the old velocities
        s = torch.stack((x + self.tau * x_dot, x_dot + self.tau * xacc,
                         theta + self.tau * theta_dot, theta_dot + self.tau * thetaacc), -1)
        terminated = (s[..., 0].abs() > self.x_threshold) | (s[..., 2].abs() > self.theta_threshold)
        return {"s": s}, torch.ones_like(x, dtype=torch.float32), terminated

    def observe(self, state):
        return state["s"].to(torch.float32)


class Acrobot(Env):
    """gymnasium Acrobot-v1 (Sutton 1996, the book dynamics): swing a two-link pendulum's tip
    above a line by torquing the joint; -1 per step until then, 500 steps at most."""

    name, obs_size, num_actions, max_steps, reset_draws = "acrobot", 6, 3, 500, 4
    dt, max_vel_1, max_vel_2 = 0.2, 4 * math.pi, 9 * math.pi

    def reset_state(self, u):
        return {"s": u.to(torch.float64) * 0.2 - 0.1}

    @staticmethod
    def _dsdt(s: torch.Tensor, torque: torch.Tensor) -> torch.Tensor:
        m1 = m2 = l1 = moi = 1.0
        lc1 = lc2 = 0.5
        g = 9.8
        theta1, theta2, dtheta1, dtheta2 = s.unbind(-1)
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * torch.cos(theta2)) + 2 * moi
        d2 = m2 * (lc2**2 + l1 * lc2 * torch.cos(theta2)) + moi
        phi2 = m2 * lc2 * g * torch.cos(theta1 + theta2 - math.pi / 2.0)
        phi1 = (-m2 * l1 * lc2 * dtheta2**2 * torch.sin(theta2)
                - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * torch.sin(theta2)
                + (m1 * lc1 + m2 * l1) * g * torch.cos(theta1 - math.pi / 2) + phi2)
        ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * torch.sin(theta2)
                    - phi2) / (m2 * lc2**2 + moi - d2**2 / d1)
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return torch.stack((dtheta1, dtheta2, ddtheta1, ddtheta2), -1)

    @staticmethod
    def _wrap(x: torch.Tensor) -> torch.Tensor:
        """gymnasium's `wrap` into [-pi, pi] (its while loops; a step moves an angle by less
        than 2 pi, so two passes are the loops' every iteration)."""
        for _ in range(2):
            x = torch.where(x > math.pi, x - 2 * math.pi, x)
            x = torch.where(x < -math.pi, x + 2 * math.pi, x)
        return x

    def transition(self, state, action):
        s = state["s"]
        torque = (action - 1).to(s.dtype)
        h = self.dt / 2.0  # one classic RK4 step over [0, dt], as gymnasium's rk4
        k1 = self._dsdt(s, torque)
        k2 = self._dsdt(s + h * k1, torque)
        k3 = self._dsdt(s + h * k2, torque)
        k4 = self._dsdt(s + self.dt * k3, torque)
        ns = s + self.dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        ns = torch.stack((self._wrap(ns[..., 0]), self._wrap(ns[..., 1]),
                          ns[..., 2].clamp(-self.max_vel_1, self.max_vel_1),
                          ns[..., 3].clamp(-self.max_vel_2, self.max_vel_2)), -1)
        terminated = -torch.cos(ns[..., 0]) - torch.cos(ns[..., 1] + ns[..., 0]) > 1.0
        return {"s": ns}, torch.where(terminated, 0.0, -1.0).to(torch.float32), terminated

    def observe(self, state):
        s = state["s"]
        return torch.stack((torch.cos(s[..., 0]), torch.sin(s[..., 0]), torch.cos(s[..., 1]),
                            torch.sin(s[..., 1]), s[..., 2], s[..., 3]), -1).to(torch.float32)


class Pendulum(Env):
    """gymnasium Pendulum-v1: swing a pendulum up and hold it upright with a bounded torque;
    reward -(angle^2 + 0.1 speed^2 + 0.001 torque^2) per step, 200 steps, no termination. The
    continuous-action game: an action is a torque (one float, clipped to [-2, 2] here as
    gymnasium's ClipAction and the game itself do)."""

    name, obs_size, num_actions, action_dim, max_steps, reset_draws = "pendulum", 3, 0, 1, 200, 2
    g, m, length, dt, max_speed, max_torque = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0

    def reset_state(self, u):
        u = u.to(torch.float64)
        return {"th": u[..., 0] * 2 * math.pi - math.pi, "thdot": u[..., 1] * 2 - 1}

    def transition(self, state, action):
        th, thdot = state["th"], state["thdot"]
        # the torque is float32 (gymnasium's Box), and numpy keeps a float32 times a Python
        # float in float32 (NEP 50): the torque's terms round there, then join the float64 state
        u = action[..., 0].to(torch.float32).clamp(-self.max_torque, self.max_torque)
        angle = torch.remainder(th + math.pi, 2 * math.pi) - math.pi
        costs = angle**2 + 0.1 * thdot**2 + (0.001 * u**2).double()
        thdot = (thdot + (3 * self.g / (2 * self.length) * torch.sin(th)
                          + (3.0 / (self.m * self.length**2) * u).double()) * self.dt)
        thdot = thdot.clamp(-self.max_speed, self.max_speed)
        th = th + thdot * self.dt
        return ({"th": th, "thdot": thdot}, (-costs).to(torch.float32),
                torch.zeros_like(th, dtype=torch.bool))

    def observe(self, state):
        th = state["th"]
        return torch.stack((torch.cos(th), torch.sin(th), state["thdot"]), -1).to(torch.float32)


def _at(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A one-hot 10x10 board [..., 10, 10] with True at (y, x)."""
    rows = torch.arange(10, device=y.device)
    return (rows[:, None] == y[..., None, None]) & (rows == x[..., None, None])


@functools.cache
def _tables(env: "Env", device: torch.device) -> dict[str, torch.Tensor]:
    """A game's lookup tables (its tuple attributes starting with `_`) as tensors on a device,
    made once: a host-to-device copy per step would stall a GPU."""
    return {name: torch.tensor(value, device=device) for name, value in vars(type(env)).items()
            if name.startswith("_") and isinstance(value, tuple)}


class Breakout(Env):
    """MinAtar Breakout (Young & Tian 2019, https://github.com/kenjyoung/MinAtar): bounce a ball
    off a paddle into three rows of bricks on a 10x10 board, +1 per brick; the episode ends when
    the ball is missed. Actions: no-op, left, right (the game's minimal action set); the
    observation is the 10x10x4 board (paddle, ball, trail, bricks) flattened channel-last."""

    name, obs_size, num_actions, max_steps, reset_draws = "breakout", 400, 3, 1000, 1
    sticky_prob, board = 0.1, True
    # ball directions 0..3: up-left, up-right, down-right, down-left
    _dx, _dy = (-1, 1, 1, -1), (-1, -1, 1, 1)
    _flip_x, _flip_y, _paddle_edge = (1, 0, 3, 2), (3, 2, 1, 0), (2, 3, 0, 1)

    def reset_state(self, u):
        right = u[..., 0] >= 0.5  # minatar's randint(2): start in the left or right corner
        ball_x = torch.where(right, 9, 0)
        bricks = torch.zeros(*u.shape[:-1], 10, 10, dtype=torch.bool, device=u.device)
        bricks[..., 1:4, :] = True
        return {"ball_x": ball_x, "ball_y": torch.full_like(ball_x, 3),
                "dir": torch.where(right, 3, 2), "pos": torch.full_like(ball_x, 4),
                "bricks": bricks, "strike": torch.zeros_like(right),
                "last_x": ball_x, "last_y": torch.full_like(ball_x, 3)}

    def transition(self, state, action):
        table = _tables(self, action.device)
        pos = (state["pos"] + (action == 2).long() - (action == 1).long()).clamp(0, 9)
        ball_x, ball_y, direction = state["ball_x"], state["ball_y"], state["dir"]
        new_x, new_y = ball_x + table["_dx"][direction], ball_y + table["_dy"][direction]
        side = (new_x < 0) | (new_x > 9)
        new_x = new_x.clamp(0, 9)
        direction = torch.where(side, table["_flip_x"][direction], direction)
        top = new_y < 0
        new_y = new_y.clamp(min=0)
        brick = ~top & (state["bricks"] & _at(new_y, new_x)).flatten(-2).any(-1)
        hit = brick & ~state["strike"]  # a brick right after a strike is passed through
        bricks = state["bricks"] & ~(_at(new_y, new_x) & hit[..., None, None])
        bottom = ~top & ~brick & (new_y == 9)
        cleared = ~bricks.flatten(-2).any(-1)
        refill = torch.zeros_like(bricks)
        refill[..., 1:4, :] = True
        bricks = torch.where((bottom & cleared)[..., None, None], refill, bricks)
        centre = bottom & (ball_x == pos)
        edge = bottom & ~centre & (new_x == pos)
        direction = torch.where(top | hit | centre, table["_flip_y"][direction], direction)
        direction = torch.where(edge, table["_paddle_edge"][direction], direction)
        new_y = torch.where(hit | centre | edge, ball_y, new_y)
        terminated = bottom & ~centre & ~edge
        return ({"ball_x": new_x, "ball_y": new_y, "dir": direction, "pos": pos,
                 "bricks": bricks, "strike": brick, "last_x": ball_x, "last_y": ball_y},
                hit.to(torch.float32), terminated)

    def observe(self, state):
        paddle = _at(torch.full_like(state["pos"], 9), state["pos"])
        board = torch.stack((paddle, _at(state["ball_y"], state["ball_x"]),
                             _at(state["last_y"], state["last_x"]), state["bricks"]), -1)
        return board.flatten(-3).to(torch.float32)


ENVS: dict[str, type[Env]] = {env.name: env for env in (CartPole, Acrobot, Pendulum, Breakout)}


def make(name: str) -> Env:
    """An environment by its name; an unknown name is a ValueError naming the known ones."""
    if name not in ENVS:
        raise ValueError(f"unknown environment {name!r}: use one of {', '.join(sorted(ENVS))}")
    return ENVS[name]()


@dataclass
class Step:
    obs: torch.Tensor
    """[agents, envs, obs_size] float32: after an automatic reset where the episode ended."""
    reward: torch.Tensor
    done: torch.Tensor
    """Terminated or truncated: the trainer does not bootstrap past either (CleanRL)."""
    episode_return: torch.Tensor
    """The return of the episode that just ended (0 where none ended)."""


class VecEnv:
    """`num_envs` copies of a game for each agent, reset automatically, with each agent's
    randomness from its key and the step counter alone."""

    def __init__(self, env: Env, keys: torch.Tensor, num_envs: int):
        self.env, self.keys, self.num_envs = env, keys, num_envs
        self.counter = 0

    def _draw(self, stream: str, size: int) -> torch.Tensor:
        return uniform(self.keys, stream, self.counter, (self.num_envs, size))

    def reset(self) -> torch.Tensor:
        self.counter = 0
        self.state = self.env.reset_state(self._draw("reset", self.env.reset_draws))
        zeros = torch.zeros(len(self.keys), self.num_envs, device=self.keys.device)
        self.t, self.ret = zeros.long(), zeros
        self.last_action = zeros.long()
        return self.env.observe(self.state)

    def step(self, action: torch.Tensor) -> Step:
        self.counter += 1
        if self.env.sticky_prob > 0:
            sticky = self._draw("sticky", 1)[..., 0] < self.env.sticky_prob
            action = torch.where(sticky, self.last_action, action)
            self.last_action = action
        state, reward, terminated = self.env.transition(self.state, action)
        self.t, self.ret = self.t + 1, self.ret + reward
        done = terminated | (self.t >= self.env.max_steps)
        fresh = self.env.reset_state(self._draw("reset", self.env.reset_draws))
        self.state = {k: torch.where(done.view(*done.shape, *[1] * (v.dim() - done.dim())),
                                     fresh[k], v) for k, v in state.items()}
        episode_return = torch.where(done, self.ret, 0.0)
        self.t, self.ret = torch.where(done, 0, self.t), torch.where(done, 0.0, self.ret)
        return Step(self.env.observe(self.state), reward, done, episode_return)
