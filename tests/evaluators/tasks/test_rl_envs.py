"""The batched torch environments against their references, step by step (gymnasium's
CartPole-v1 and Acrobot-v1, the `minatar` package's Breakout): the reference is put in our
start state, both get the same actions, and observations, rewards and terminations must agree
at every step over several episodes. Then what VecEnv adds (auto-reset, time limit, returns)
and the randomness: an agent's numbers do not depend on which agents share its batch."""

import sys

import numpy as np
import pytest
import torch

from evaluators.task import TASKS_DIR

gym = pytest.importorskip("gymnasium")
minatar = pytest.importorskip("minatar")

sys.path.insert(0, str(TASKS_DIR / "rl" / "_shared"))
from envs import Acrobot, Breakout, CartPole, VecEnv, make  # noqa: E402
from minatar_games import Asterix, Freeway, SpaceInvaders, _episode_bits  # noqa: E402
from rng import agent_keys, uniform  # noqa: E402


def batch_of_one(state: dict) -> dict:
    return {k: v[None, None] for k, v in state.items()}


@pytest.mark.parametrize(("ours", "gym_id"), [(CartPole(), "CartPole-v1"),
                                              (Acrobot(), "Acrobot-v1")])
def test_classic_control_matches_gymnasium_step_by_step(ours, gym_id):
    reference = gym.make(gym_id).unwrapped
    reference.reset(seed=0)
    rng = np.random.default_rng(1)
    steps = episodes = 0
    while episodes < 4:
        u = torch.tensor(rng.random(ours.reset_draws))
        state = {k: v[None, None] for k, v in ours.reset_state(u).items()}
        reference.state = state["s"][0, 0].numpy().copy()
        reference.steps_beyond_terminated = None  # CartPole's "stepped after the end" mark
        for _ in range(ours.max_steps):
            action = int(rng.integers(ours.num_actions))
            obs, reward, terminated, _, _ = reference.step(action)
            state, our_reward, our_terminated = ours.transition(state, torch.tensor([[action]]))
            np.testing.assert_allclose(ours.observe(state)[0, 0].numpy(), obs, atol=1e-6)
            assert float(our_reward) == reward and bool(our_terminated) == terminated
            steps += 1
            if terminated:
                break
        episodes += 1
    assert steps > 4 * (20 if gym_id == "CartPole-v1" else 400)


def set_minatar(env, state: dict) -> None:
    """Put minatar's Breakout in our state (batch of one)."""
    game = env.env
    pick = {k: v[0, 0] for k, v in state.items()}
    game.ball_x, game.ball_y = int(pick["ball_x"]), int(pick["ball_y"])
    game.ball_dir, game.pos = int(pick["dir"]), int(pick["pos"])
    game.last_x, game.last_y = int(pick["last_x"]), int(pick["last_y"])
    game.brick_map = pick["bricks"].numpy().astype(float)
    game.strike, game.terminal = bool(pick["strike"]), False


def test_breakout_matches_minatar_step_by_step():
    """Episodes of three kinds: random play (misses, terminations), a paddle that follows the
    ball (long episodes, both paddle bounces, bricks hit after bricks), and the same from
    boards with only a few bricks left (cleared and refilled)."""
    reference = minatar.Environment("breakout", sticky_action_prob=0.0)
    ours = Breakout()
    minatar_action = [0, 1, 3]  # our no-op, left, right in minatar's full action set
    rng = np.random.default_rng(2)
    steps, total, terminals, refills = 0, 0.0, 0, 0
    for kind in ["random"] * 4 + ["follow"] * 2 + ["few_bricks"] * 4:
        state = batch_of_one(ours.reset_state(torch.tensor([rng.random()])))
        if kind == "few_bricks":
            keep = torch.zeros(100, dtype=torch.bool)
            keep[rng.choice(np.arange(10, 40), 2, replace=False)] = True
            state["bricks"] = state["bricks"] & keep.view(1, 1, 10, 10)
        set_minatar(reference, state)
        assert np.array_equal(ours.observe(state)[0, 0].numpy(),
                              reference.state().reshape(-1).astype(np.float32))
        for _ in range(1500):
            target = int(state["ball_x"]) + (-1, 1, 1, -1)[int(state["dir"])]
            pos = int(state["pos"])
            action = int(rng.integers(3)) if kind == "random" else \
                (0 if target == pos else 1 if target < pos else 2)
            bricks = int(state["bricks"].sum())
            reward, terminal = reference.act(minatar_action[action])
            state, our_reward, our_terminal = ours.transition(state, torch.tensor([[action]]))
            assert np.array_equal(ours.observe(state)[0, 0].numpy(),
                                  reference.state().reshape(-1).astype(np.float32)), steps
            assert float(our_reward) == reward and bool(our_terminal) == terminal
            steps, total = steps + 1, total + reward
            refills += int(state["bricks"].sum()) > bricks
            if terminal:
                terminals += 1
                break
    assert steps > 3000 and total > 20 and terminals >= 4 and refills >= 2, \
        (steps, total, terminals, refills)


def same_board(ours, state, reference) -> bool:
    return np.array_equal(ours.observe(state)[0, 0].numpy(),
                          reference.state().reshape(-1).astype(np.float32))


def test_space_invaders_matches_minatar_step_by_step():
    """Random play with a cannon that fires often, from the start and from waves with three
    aliens left: aliens shot, waves cleared and sped up, the cannon shot or reached."""
    reference = minatar.Environment("space_invaders", sticky_action_prob=0.0)
    ours = SpaceInvaders()
    minatar_action = [0, 1, 3, 5]  # no-op, left, right, fire
    rng = np.random.default_rng(3)
    steps, total, terminals, fastest = 0, 0.0, 0, 12
    for kind in ["start"] * 3 + ["few_aliens"] * 6:
        state = batch_of_one(ours.reset_state(torch.zeros(1)))
        reference.reset()
        if kind == "few_aliens":
            keep = torch.zeros(100, dtype=torch.bool)
            keep[rng.choice([r * 10 + c for r in range(4) for c in range(2, 8)], 3,
                            replace=False)] = True
            state["aliens"] = state["aliens"] & keep.view(1, 1, 10, 10)
            reference.env.alien_map = state["aliens"][0, 0].numpy().astype(float)
        for _ in range(3000):
            action = int(rng.choice(4, p=[0.1, 0.2, 0.2, 0.5]))
            reward, terminal = reference.act(minatar_action[action])
            state, our_reward, our_terminal = ours.transition(state, torch.tensor([[action]]))
            assert same_board(ours, state, reference), steps
            assert float(our_reward) == reward and bool(our_terminal) == terminal, steps
            assert int(state["interval"]) == reference.env.enemy_move_interval
            steps, total = steps + 1, total + reward
            fastest = min(fastest, reference.env.enemy_move_interval)
            if terminal:
                terminals += 1
                break
    assert terminals == 9 and total > 15 and fastest < 12, (steps, total, terminals, fastest)


def test_freeway_matches_minatar_step_by_step():
    """A chicken that mostly walks up: crossings (and new car speeds, which minatar is made to
    draw as we do), collisions, the 2500-step end."""
    reference = minatar.Environment("freeway", sticky_action_prob=0.0)
    ours = Freeway()
    minatar_action = [0, 2, 4]  # no-op, up, down
    rng = np.random.default_rng(4)
    state = batch_of_one(ours.reset_state(torch.tensor(rng.random(17), dtype=torch.float32)))
    game = reference.env
    game.cars = [[int(state["x"][0, 0, i]), i + 1, int(state["timer"][0, 0, i]),
                  int(state["speed"][0, 0, i])] for i in range(8)]
    game.pos, game.move_timer, game.terminate_timer, game.terminal = 9, 3, 2500, False

    def our_draw(initialize=False):
        speeds = ours._speeds(ours._draw(state["key"], state["draws"]))[0, 0].tolist()
        for car, speed in zip(game.cars, speeds, strict=True):
            car[2:4] = [abs(speed), speed]
    game._randomize_cars = our_draw
    total, hit = 0.0, 0
    for step in range(3000):
        action = int(rng.choice(3, p=[0.1, 0.8, 0.1]))
        before = game.pos
        reward, terminal = reference.act(minatar_action[action])
        state, our_reward, our_terminal = ours.transition(state, torch.tensor([[action]]))
        assert same_board(ours, state, reference), step
        assert float(our_reward) == reward and bool(our_terminal) == terminal, step
        total += reward
        hit += game.pos == 9 and before < 8
        if terminal:
            break
    assert step == 2500 and total > 5 and hit > 5, (step, total, hit)


class AsterixDraws:
    """minatar's RNG for one Asterix step: the uniforms our spawn counter gives (side, treasure,
    lane), so minatar's own `rand() < 1/2`, `rand() < 1/3` and `randint(free)` decide."""

    def __init__(self, state: dict):
        bits = _episode_bits(state["key"], state["spawns"], 3)[0, 0].tolist()
        self.uniforms = iter(b / (1 << 24) for b in bits)

    def rand(self) -> float:
        return next(self.uniforms)

    def randint(self, n: int) -> int:
        return int(next(self.uniforms) * n)


def dodge(ours: Asterix, state: dict, rng: np.random.Generator) -> int:
    """A policy that lives long: the action whose next step is safe and from which some second
    step is too (our transition on all 25 two-step plans at once), then gold, ties at random."""
    actions = torch.arange(5)
    first = {k: v.expand(1, 5, *v.shape[2:]) for k, v in state.items()}
    first, reward, dead = ours.transition(first, actions[None])
    second = {k: v[:, :, None].expand(1, 5, 5, *v.shape[2:]).reshape(1, 25, *v.shape[2:])
              for k, v in first.items()}
    _, _, dead_next = ours.transition(second, actions.repeat(5)[None])
    safe = (~dead[0]).double() * 2 + (~dead_next[0].view(5, 5)).any(-1).double()
    return int((safe * 5 + reward[0].double() + torch.from_numpy(rng.random(5))).argmax())


def test_asterix_matches_minatar_step_by_step():
    """Random play (short episodes: an enemy soon runs into the player) and a dodging player
    that picks up gold and lives past the whole difficulty ramp (spawns and moves every step,
    all eight lanes full); minatar draws the spawns from our per-episode numbers."""
    reference = minatar.Environment("asterix", sticky_action_prob=0.0)
    ours = Asterix()  # our actions are minatar's first five: no-op, left, up, right, down
    rng = np.random.default_rng(6)
    steps, total, terminals, full, fastest = 0, 0.0, 0, 0, (10, 5)
    for kind in ["random"] * 6 + ["dodge"] * 2:
        u = torch.tensor([rng.random()], dtype=torch.float32)
        state = batch_of_one(ours.reset_state(u))
        reference.reset()
        assert same_board(ours, state, reference)
        for _ in range(1100):
            action = int(rng.integers(5)) if kind == "random" else dodge(ours, state, rng)
            reference.env.random = AsterixDraws(state)
            full += int(state["spawn_timer"]) == 0 and bool(state["alive"].all())
            reward, terminal = reference.act(action)
            state, our_reward, our_terminal = ours.transition(state, torch.tensor([[action]]))
            assert same_board(ours, state, reference), steps
            assert float(our_reward) == reward and bool(our_terminal) == terminal, steps
            game = reference.env
            assert (int(state["spawn_speed"]), int(state["move_speed"])) == \
                (game.spawn_speed, game.move_speed), steps
            steps, total = steps + 1, total + reward
            fastest = min(fastest, (game.spawn_speed, game.move_speed))
            if terminal:
                terminals += 1
                break
    assert terminals >= 6 and total > 50 and fastest == (1, 1) and full > 0, \
        (steps, total, terminals, fastest, full)


def test_asterix_spawns_are_an_agents_own():
    """Asterix's mid-episode spawns come from the agent's episode keys: agent 5 plays the same
    games alone and among others (its actions from its own key, sticky actions included)."""
    boards = []
    for seeds in ([5], [1, 5, 9]):
        keys = agent_keys(seeds)
        vec = VecEnv(Asterix(), keys, num_envs=3)
        obs, index = [vec.reset()], seeds.index(5)
        for t in range(300):
            actions = (uniform(keys, "action", t, (3,)) * 5).long()
            obs.append(vec.step(actions).obs)
        boards.append(torch.stack(obs)[:, index])
    assert torch.equal(boards[0], boards[1])
    assert boards[0].view(301, 3, 10, 10, 4)[..., 1:].sum() > 0  # entities did spawn


def test_vec_env_resets_ended_episodes_and_reports_their_return():
    env = CartPole()
    env.max_steps = 7  # the time limit, short enough to hit
    vec = VecEnv(env, agent_keys([3, 4]), num_envs=5)
    vec.reset()
    for t in range(1, 15):
        out = vec.step(torch.ones(2, 5, dtype=torch.long))  # always push right
        ended = out.done
        assert (out.episode_return[~ended] == 0).all()
        assert (vec.t[ended] == 0).all() and (out.episode_return[ended] > 0).all()
        if t == 7:  # nothing terminates in 7 steps from near upright: the time limit ends all
            assert ended.all() and (out.episode_return == 7).all()


def test_an_agents_randomness_does_not_depend_on_its_batch():
    alone = uniform(agent_keys([5]), "reset", 11, (4, 3))
    among = uniform(agent_keys([1, 5, 9]), "reset", 11, (4, 3))
    assert torch.equal(alone[0], among[1])
    assert not torch.equal(among[0], among[1])  # and different seeds differ
    other_counter = uniform(agent_keys([5]), "reset", 12, (4, 3))
    assert not torch.equal(alone, other_counter)
    draws = uniform(agent_keys(list(range(64))), "action", 0, (256,))
    assert float(draws.min()) >= 0 and float(draws.max()) < 1
    assert abs(float(draws.mean()) - 0.5) < 0.01  # 16k draws: a sanity check of the hash


def test_an_unknown_environment_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown environment 'pong': use one of"):
        make("pong")
