"""More MinAtar games (Young & Tian 2019, https://github.com/kenjyoung/MinAtar) for held-out
runs, batched like envs.py's: Space Invaders and Freeway. Importing this module registers them
in `envs.ENVS` (a separate file, so that the anchors measured for envs.py's games stay valid
when games are added here: anchors are keyed by the files their game runs on).

Freeway draws new car speeds in mid-episode; the draws come from a key each episode gets at its
reset (itself from the agent's reset stream) hashed with a counter kept in the state, so the
transition stays a pure function and an agent's numbers stay its own.

Cross-checked step by step against `minatar` in tests/evaluators/tasks/test_rl_envs.py.
"""

import torch
from envs import ENVS, Env, _at
from rng import mix


def _roll_rows(board: torch.Tensor, shift: int) -> torch.Tensor:
    return torch.roll(board, shift, dims=-2)


class SpaceInvaders(Env):
    """Shoot the descending aliens (+1 each) before they reach the cannon or shoot it; cleared
    waves come back faster (MinAtar's difficulty ramp). Actions: no-op, left, right, fire."""

    name, obs_size, num_actions, max_steps, reset_draws = "space_invaders", 600, 4, 1000, 1
    sticky_prob = 0.1
    shot_cool_down, enemy_move_interval, enemy_shot_interval = 5, 12, 10

    def reset_state(self, u):
        batch = u.shape[:-1]
        zeros = torch.zeros(batch, dtype=torch.long, device=u.device)
        board = torch.zeros((*batch, 10, 10), dtype=torch.bool, device=u.device)
        aliens = board.clone()
        aliens[..., 0:4, 2:8] = True
        return {"pos": zeros + 5, "f_bullets": board, "e_bullets": board.clone(),
                "aliens": aliens, "dir": zeros - 1, "interval": zeros + self.enemy_move_interval,
                "move_timer": zeros + self.enemy_move_interval,
                "shot_timer": zeros + self.enemy_shot_interval, "cool_down": zeros}

    def transition(self, state, action):
        pos, aliens, direction = state["pos"], state["aliens"], state["dir"]
        fire = (action == 3) & (state["cool_down"] == 0)
        f_bullets = state["f_bullets"] | (_at(torch.full_like(pos, 9), pos) & fire[..., None, None])
        cool_down = torch.where(fire, self.shot_cool_down, state["cool_down"])
        pos = (pos + (action == 2).long() - (action == 1).long()).clamp(0, 9)
        f_bullets = _roll_rows(f_bullets, -1)
        f_bullets[..., 9, :] = False
        e_bullets = _roll_rows(state["e_bullets"], 1)
        e_bullets[..., 0, :] = False
        cannon = _at(torch.full_like(pos, 9), pos)
        terminated = (e_bullets & cannon).flatten(-2).any(-1) \
            | (aliens & cannon).flatten(-2).any(-1)

        move = state["move_timer"] == 0
        count = aliens.flatten(-2).sum(-1)
        edge = (aliens[..., :, 0].any(-1) & (direction < 0)) \
            | (aliens[..., :, 9].any(-1) & (direction > 0))
        terminated |= move & edge & aliens[..., 9, :].any(-1)
        sideways = torch.where((direction > 0)[..., None, None], torch.roll(aliens, 1, dims=-1),
                               torch.roll(aliens, -1, dims=-1))
        moved = torch.where(edge[..., None, None], _roll_rows(aliens, 1), sideways)
        aliens = torch.where(move[..., None, None], moved, aliens)
        direction = torch.where(move & edge, -direction, direction)
        terminated |= move & (aliens & cannon).flatten(-2).any(-1)
        move_timer = torch.where(move, torch.minimum(count, state["interval"]),
                                 state["move_timer"])

        # the nearest column holding an alien (ties: the left one) fires from its lowest alien
        shoot = state["shot_timer"] == 0
        columns = torch.arange(10, device=pos.device)
        occupied = aliens.any(-2)
        distance = torch.where(occupied, (columns - pos[..., None]).abs() * 10 + columns, 1000)
        column = distance.argmin(-1)
        in_column = aliens.gather(-1, column[..., None, None].expand(*column.shape, 10, 1))[..., 0]
        row = (in_column * columns).argmax(-1)
        e_bullets = e_bullets | (_at(row, column) & (shoot & occupied.any(-1))[..., None, None])
        shot_timer = torch.where(shoot, self.enemy_shot_interval, state["shot_timer"])

        kill = aliens & f_bullets
        reward = kill.flatten(-2).sum(-1).to(torch.float32)
        aliens, f_bullets = aliens & ~kill, f_bullets & ~kill
        cool_down = cool_down - (cool_down > 0).long()
        cleared = ~aliens.flatten(-2).any(-1)
        interval = state["interval"] - (cleared & (state["interval"] > 6)).long()
        wave = torch.zeros_like(aliens)
        wave[..., 0:4, 2:8] = True
        aliens = torch.where(cleared[..., None, None], wave, aliens)
        return ({"pos": pos, "f_bullets": f_bullets, "e_bullets": e_bullets, "aliens": aliens,
                 "dir": direction, "interval": interval, "move_timer": move_timer - 1,
                 "shot_timer": shot_timer - 1, "cool_down": cool_down}, reward, terminated)

    def observe(self, state):
        aliens, left = state["aliens"], (state["dir"] < 0)[..., None, None]
        board = torch.stack((_at(torch.full_like(state["pos"], 9), state["pos"]), aliens,
                             aliens & left, aliens & ~left, state["f_bullets"],
                             state["e_bullets"]), -1)
        return board.flatten(-3).to(torch.float32)


class Freeway(Env):
    """Walk the chicken across ten lanes of traffic (+1 per crossing; a car sends it back to the
    bottom); new car speeds after each crossing; 2500 steps. Actions: no-op, up, down."""

    name, obs_size, num_actions, max_steps, reset_draws = "freeway", 700, 3, 2501, 17
    sticky_prob = 0.1
    player_speed, time_limit = 3, 2500

    @staticmethod
    def _speeds(u: torch.Tensor) -> torch.Tensor:
        """minatar's randint(1, 6) speeds times a random direction, from 16 uniforms."""
        return (1 + (u[..., :8] * 5).long().clamp(max=4)) * torch.where(u[..., 8:16] < 0.5, -1, 1)

    def _draw(self, key: torch.Tensor, counter: torch.Tensor) -> torch.Tensor:
        """16 uniforms per environment from its episode key and draw counter."""
        index = torch.arange(16, device=key.device)
        bits = mix((mix((key + counter * 0x9E3779B9) & 0xFFFFFFFF)[..., None] + index * 0x68E31DA4)
                   & 0xFFFFFFFF)
        return (bits >> 8).to(torch.float32) / (1 << 24)

    def reset_state(self, u):
        speed = self._speeds(u)
        zeros = torch.zeros(u.shape[:-1], dtype=torch.long, device=u.device)
        return {"x": torch.zeros_like(speed), "timer": speed.abs(), "speed": speed,
                "pos": zeros + 9, "move_timer": zeros + self.player_speed,
                "time_left": zeros + self.time_limit,
                "key": (u[..., 16] * (1 << 24)).long(), "draws": zeros}

    def transition(self, state, action):
        ready = state["move_timer"] == 0
        up, down = ready & (action == 1), ready & (action == 2)
        move_timer = torch.where(up | down, self.player_speed, state["move_timer"])
        pos = (state["pos"] - up.long() + down.long()).clamp(0, 9)
        crossed = pos == 0
        new_speed = self._speeds(self._draw(state["key"], state["draws"]))
        speed = torch.where(crossed[..., None], new_speed, state["speed"])
        timer = torch.where(crossed[..., None], new_speed.abs(), state["timer"])
        draws = state["draws"] + crossed.long()
        pos = torch.where(crossed, 9, pos)
        xs, timers = list(state["x"].unbind(-1)), list(timer.unbind(-1))
        for lane in range(8):  # minatar moves the cars one by one, checking the chicken each time
            pos = torch.where((xs[lane] == 4) & (pos == lane + 1), 9, pos)
            due = timers[lane] == 0
            step = torch.where(speed[..., lane] > 0, 1, -1)
            xs[lane] = torch.where(due, (xs[lane] + step) % 10, xs[lane])
            timers[lane] = torch.where(due, speed[..., lane].abs(), timers[lane] - 1)
            pos = torch.where(due & (xs[lane] == 4) & (pos == lane + 1), 9, pos)
        time_left = state["time_left"] - 1
        return ({"x": torch.stack(xs, -1), "timer": torch.stack(timers, -1), "speed": speed,
                 "pos": pos, "move_timer": move_timer - (move_timer > 0).long(),
                 "time_left": time_left, "key": state["key"], "draws": draws},
                crossed.to(torch.float32), time_left < 0)

    def observe(self, state):
        x, speed = state["x"], state["speed"]
        lanes = torch.arange(1, 9, device=x.device).expand_as(x)
        cars = _at(lanes, x).any(-3)
        back = torch.where(speed > 0, x - 1, x + 1) % 10
        trails = [(_at(lanes, back) & (speed.abs() == s)[..., None, None]).any(-3)
                  for s in range(1, 6)]
        chicken = _at(state["pos"], torch.full_like(state["pos"], 4))
        return torch.stack((chicken, cars, *trails), -1).flatten(-3).to(torch.float32)


ENVS.update({env.name: env for env in (SpaceInvaders, Freeway)})
