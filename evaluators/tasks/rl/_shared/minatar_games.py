"""More MinAtar games (Young & Tian 2019, https://github.com/kenjyoung/MinAtar) for held-out
runs, batched like envs.py's: Space Invaders, Freeway and Asterix. Importing this module
registers them in `envs.ENVS` (a separate file, so that the anchors measured for envs.py's games
stay valid when games are added here: anchors are keyed by the files their game runs on).

Freeway draws new car speeds and Asterix spawns in mid-episode; the draws come from a key each
episode gets at its reset (itself from the agent's reset stream) hashed with a counter kept in
the state, so the transition stays a pure function and an agent's numbers stay its own.

Cross-checked step by step against `minatar` in tests/evaluators/tasks/test_rl_envs.py.
"""

import torch
from envs import ENVS, Env, _at
from rng import mix


def _roll_rows(board: torch.Tensor, shift: int) -> torch.Tensor:
    return torch.roll(board, shift, dims=-2)


def _lanes(x: torch.Tensor, on: torch.Tensor | None = None) -> torch.Tensor:
    """A 10x10 board [..., 10, 10] holding, for each of the eight lanes (lane i is row i + 1),
    its square at column x[..., i] where `on` [..., 8] (a column off the board: none): what
    `_at(lanes, x)` masked and folded with `.any(-3)` gives, without a 10x10 board per lane."""
    squares = torch.arange(10, device=x.device) == x[..., None]
    if on is not None:
        squares = squares & on[..., None]
    empty = torch.zeros_like(squares[..., :1, :])
    return torch.cat((empty, squares, empty), -2)


def _episode_bits(key: torch.Tensor, counter: torch.Tensor, size: int) -> torch.Tensor:
    """`size` random 24-bit integers per environment (int64 [..., size]) from its episode key
    and a draw counter kept in its state: the mid-episode draws of a game that needs them."""
    index = torch.arange(size, device=key.device)
    bits = mix((mix((key + counter * 0x9E3779B9) & 0xFFFFFFFF)[..., None] + index * 0x68E31DA4)
               & 0xFFFFFFFF)
    return bits >> 8


class SpaceInvaders(Env):
    """Shoot the descending aliens (+1 each) before they reach the cannon or shoot it; cleared
    waves come back faster (MinAtar's difficulty ramp). Actions: no-op, left, right, fire."""

    name, obs_size, num_actions, max_steps, reset_draws = "space_invaders", 600, 4, 1000, 1
    sticky_prob, board = 0.1, True
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
    sticky_prob, board = 0.1, True
    player_speed, time_limit = 3, 2500

    @staticmethod
    def _speeds(u: torch.Tensor) -> torch.Tensor:
        """minatar's randint(1, 6) speeds times a random direction, from 16 uniforms."""
        return (1 + (u[..., :8] * 5).long().clamp(max=4)) * torch.where(u[..., 8:16] < 0.5, -1, 1)

    def _draw(self, key: torch.Tensor, counter: torch.Tensor) -> torch.Tensor:
        """16 uniforms per environment from its episode key and draw counter."""
        return _episode_bits(key, counter, 16).to(torch.float32) / (1 << 24)

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
        back = torch.where(speed > 0, x - 1, x + 1) % 10
        trails = [_lanes(back, speed.abs() == s) for s in range(1, 6)]
        cars = _lanes(x)
        chicken = _at(state["pos"], torch.full_like(state["pos"], 4))
        return torch.stack((chicken, cars, *trails), -1).flatten(-3).to(torch.float32)


class Asterix(Env):
    """Walk among eight lanes of enemies and treasure that spawn at a random side of a random
    free lane and cross the board: +1 per treasure picked up, the end on touching an enemy.
    Every 102 steps spawns come sooner, and every other time moves too (MinAtar's difficulty
    ramp, down to both every step). 1000 steps, as Breakout and Space Invaders here (minatar has
    no limit). Actions: no-op, left, up, right, down (minatar's minimal set, the first five of
    its six); the observation is the 10x10x4 board (player, enemy, trail, gold) flattened
    channel-last.

    The entity of lane i (row i + 1) is `alive`/`x`/`right`/`gold` [..., 8]. A spawn takes three
    24-bit numbers from the episode's key and spawn counter (as Freeway's speeds): side,
    treasure or enemy, and which free lane; integer thresholds make them exactly minatar's
    `rand() < 1/2`, `rand() < 1/3` and `randint(free lanes)` on the same uniforms."""

    name, obs_size, num_actions, max_steps, reset_draws = "asterix", 400, 5, 1000, 1
    sticky_prob, board = 0.1, True
    init_spawn_speed, init_move_speed, ramp_interval = 10, 5, 100

    def reset_state(self, u):
        zeros = torch.zeros(u.shape[:-1], dtype=torch.long, device=u.device)
        lanes = torch.zeros((*u.shape[:-1], 8), dtype=torch.bool, device=u.device)
        return {"px": zeros + 5, "py": zeros + 5, "alive": lanes, "x": lanes.long(),
                "right": lanes.clone(), "gold": lanes.clone(),
                "spawn_speed": zeros + self.init_spawn_speed,
                "spawn_timer": zeros + self.init_spawn_speed,
                "move_speed": zeros + self.init_move_speed,
                "move_timer": zeros + self.init_move_speed,
                "ramp_timer": zeros + self.ramp_interval, "ramp_index": zeros,
                "key": (u[..., 0] * (1 << 24)).long(), "spawns": zeros}

    def transition(self, state, action):
        alive, x, right, gold = state["alive"], state["x"], state["right"], state["gold"]
        spawn = state["spawn_timer"] == 0
        side, treasure, pick = _episode_bits(state["key"], state["spawns"], 3).unbind(-1)
        free = ~alive
        pick = (pick * free.sum(-1)) >> 24
        new = free & (free.cumsum(-1) - 1 == pick[..., None]) & spawn[..., None]
        from_left = (side < 1 << 23)[..., None]
        alive = alive | new
        x = torch.where(new, torch.where(from_left, 0, 9), x)
        right = torch.where(new, from_left, right)
        gold = torch.where(new, (3 * treasure < 1 << 24)[..., None], gold)
        spawn_timer = torch.where(spawn, state["spawn_speed"], state["spawn_timer"])

        px = (state["px"] + (action == 3).long() - (action == 1).long()).clamp(0, 9)
        py = (state["py"] + (action == 4).long() - (action == 2).long()).clamp(1, 8)
        lane = torch.arange(1, 9, device=px.device) == py[..., None]
        # the player meets what is on its square, then (when they move) what steps onto it
        touch = alive & lane & (x == px[..., None])
        picked, terminated = touch & gold, (touch & ~gold).any(-1)
        alive = alive & ~picked
        move = (state["move_timer"] == 0)[..., None]
        moved = x + torch.where(right, 1, -1)
        stays = alive & (moved >= 0) & (moved <= 9)
        touch = move & stays & lane & (moved == px[..., None])
        terminated |= (touch & ~gold).any(-1)
        picked |= touch & gold
        alive = torch.where(move, stays & ~(touch & gold), alive)
        x = torch.where(move & stays, moved, x)
        move_timer = torch.where(move[..., 0], state["move_speed"], state["move_timer"])

        # the ramp counts down from 100 to -1, then speeds up (moves on odd ramps) and starts
        # again; it stops once spawns and moves both come every step
        spawn_speed, move_speed = state["spawn_speed"], state["move_speed"]
        ramp_index, ramp_timer = state["ramp_index"], state["ramp_timer"]
        ramping = (spawn_speed > 1) | (move_speed > 1)
        ramp = ramping & (ramp_timer < 0)
        move_speed = move_speed - (ramp & (move_speed > 1) & (ramp_index % 2 == 1)).long()
        spawn_speed = spawn_speed - (ramp & (spawn_speed > 1)).long()
        ramp_timer = torch.where(ramp, self.ramp_interval, ramp_timer - ramping.long())
        return ({"px": px, "py": py, "alive": alive, "x": x, "right": right, "gold": gold,
                 "spawn_speed": spawn_speed, "spawn_timer": spawn_timer - 1,
                 "move_speed": move_speed, "move_timer": move_timer - 1,
                 "ramp_timer": ramp_timer, "ramp_index": ramp_index + ramp.long(),
                 "key": state["key"], "spawns": state["spawns"] + spawn.long()},
                picked.sum(-1).to(torch.float32), terminated)

    def observe(self, state):
        alive, x, gold = state["alive"], state["x"], state["gold"]
        enemy, treasure = _lanes(x, alive & ~gold), _lanes(x, alive & gold)
        trail = _lanes(torch.where(state["right"], x - 1, x + 1), alive)  # off the board: empty
        player = _at(state["py"], state["px"])
        return torch.stack((player, enemy, trail, treasure), -1).flatten(-3).to(torch.float32)


ENVS.update({env.name: env for env in (SpaceInvaders, Freeway, Asterix)})
