"""Hostile candidates. Each must end as a clean, recorded outcome with a reason, with nothing
leaked, nothing left running and nothing outside scratch changed. Keep this list growing."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from evaluators.sandbox import LEVELS, Limits, Sandbox, available_level
from evaluators.task import load_task
from evaluators.workers import WorkerPool

ROOMY = Limits(wall_s=60, cpu_s=30)
"""For attacks whose outcome is not a timeout: room enough that a loaded machine (2 cores, a
load of 11) cannot turn them into one. No test here depends on how fast the machine is: the
outcomes asserted are what the mechanisms count (messages, bytes, processes), not seconds."""
SECRET = "sk-discovery-test-0123456789"


@pytest.fixture(scope="module", params=["fresh", "warm"])
def bwrap(request):
    """Every attack runs twice: in a fresh sandboxed process, and in a warm worker (a forked
    child of a long-lived fork server, which must come out of each attack clean)."""
    if available_level() != "bwrap":
        if os.environ.get("CI"):
            pytest.fail("CI must run the hostile suite under bubblewrap: .ci/run installs it")
        pytest.skip("bubblewrap is not usable on this machine")
    if request.param == "fresh":
        yield Sandbox("bwrap")
        return
    with WorkerPool(size=1, preload=("numpy",)) as pool:
        yield pool


@pytest.fixture(autouse=True)
def api_key_in_parent(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def leftovers(marker: str) -> list[int]:
    """Processes anywhere on the machine whose command line carries the marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


FIND_RESULT_FD = """
def RESULT_FD():
    harness = sys.modules.get('harness') or sys.modules['__main__']
    return harness._out.fileno()
"""


def fork_bomb(marker: str) -> str:
    """Fork forever; every child becomes a `sleep` whose argument marks it for `leftovers`."""
    return f"""
while True:
    try:
        if os.fork() == 0:
            os.execv('/bin/sleep', ['sleep', '{marker}'])
    except OSError:
        pass
"""


def daemon(marker: str) -> str:
    """Double-fork a marked `sleep` into its own session, then return normally."""
    return f"""
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv('/bin/sleep', ['sleep', '{marker}'])
    os._exit(0)
time.sleep(0.2)
return 'spawned'
"""


def run(sandbox: Sandbox, body: str, limits: Limits = ROOMY, **inputs):
    code = "import os, sys, time, signal, socket, subprocess\n" + FIND_RESULT_FD + \
        "\ndef attack(**kw):\n" + "".join(
        f"    {line}\n" for line in body.strip().splitlines())
    return sandbox.run(code, "attack", inputs, limits)


def test_infinite_loop_times_out(bwrap):
    result = run(bwrap, "while True:\n    pass", Limits(wall_s=1.5, cpu_s=30))
    assert result.status == "timeout" and "wall time limit of 1.5 s" in result.reason


def test_cpu_limit(bwrap):
    result = run(bwrap, "while True:\n    pass", Limits(wall_s=10, cpu_s=1))
    assert result.status == "crashed" and "CPU time limit" in result.reason
    assert result.resources["cpu_s"] == pytest.approx(1.0, abs=0.5)


def test_cpu_limit_when_the_evaluator_ignores_sigxcpu():
    """An ignored SIGXCPU survives fork and exec, and NetHack (through NLE, on the MiniHack
    task's trusted side) sets it: the sandbox and a fork server started then still end a CPU
    loop by the CPU limit, with its reason."""
    if available_level() != "bwrap":
        pytest.skip("bubblewrap is not usable on this machine")
    before = signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    try:
        with WorkerPool(size=1) as pool:
            for sandbox in (Sandbox("bwrap"), pool):
                result = run(sandbox, "while True:\n    pass", Limits(wall_s=10, cpu_s=1))
                assert result.status == "crashed" and "CPU time limit" in result.reason
    finally:
        signal.signal(signal.SIGXCPU, before)


def test_sleep_forever_times_out(bwrap):
    result = run(bwrap, "time.sleep(10**6)", Limits(wall_s=1))
    assert result.status == "timeout"


def test_fork_bomb_is_capped_and_fully_killed(bwrap):
    marker = "4242.0421"
    result = run(bwrap, fork_bomb(marker), Limits(wall_s=2, processes=32))
    assert result.status in ("timeout", "crashed")
    assert leftovers(marker) == []
    after = run(bwrap, "return 1")  # a pids cgroup still full would fail to start it
    assert after.status == "ok" and after.outputs == 1


def test_huge_allocation_is_a_memory_error(bwrap):
    result = run(bwrap, "return len(bytearray(50 * 2**30))")
    assert result.status == "crashed" and "MemoryError" in result.reason


def test_cannot_write_outside_scratch(bwrap, tmp_path):
    home = Path(os.path.expanduser("~"))
    body = f"""
done = []
for path in ['/etc/discovery-pwned', '{home}/discovery-pwned', '/usr/discovery-pwned',
             '{tmp_path}/pwned', '/tmp/ok-in-private-tmp', 'in-scratch.txt']:
    try:
        open(path, 'w').write('x')
        done.append(path)
    except OSError:
        pass
return done
"""
    result = run(bwrap, body)
    assert result.status == "ok"
    # Writes may land on the sandbox's own throwaway root (where /root is an empty tmpfs
    # directory), never on the real one.
    assert {"/etc/discovery-pwned", "/usr/discovery-pwned"}.isdisjoint(result.outputs)
    assert "in-scratch.txt" in result.outputs
    for path in ("/etc/discovery-pwned", home / "discovery-pwned", "/usr/discovery-pwned",
                 tmp_path / "pwned"):
        assert not Path(path).exists()


def test_cannot_delete_files_outside_scratch(bwrap, tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    body = f"""
import shutil
for path in ['{victim}', '/etc/hostname']:
    try:
        os.remove(path)
    except OSError:
        pass
shutil.rmtree('{tmp_path}', ignore_errors=True)
return 'tried'
"""
    assert run(bwrap, body).outputs == "tried"
    assert victim.read_text() == "keep me" and Path("/etc/hostname").exists()


def test_no_network_even_to_loopback(bwrap):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(1.5)
    port = server.getsockname()[1]
    accepted = []

    def accept():
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    body = f"""
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'stolen')
    return 'connected'
except OSError as exc:
    return type(exc).__name__
"""
    result = run(bwrap, body)
    thread.join()
    server.close()
    assert result.status == "ok" and result.outputs != "connected"
    assert accepted == []


def test_no_keys_in_environment_or_other_processes(bwrap):
    body = """
seen = [repr(dict(os.environ))]
for pid in os.listdir('/proc'):
    if pid.isdigit():
        for name in ('environ', 'cmdline'):
            try:
                seen.append(open(f'/proc/{pid}/{name}', 'rb').read().decode(errors='replace'))
            except OSError:
                pass
print('\\n'.join(seen))
return seen
"""
    result = run(bwrap, body)
    assert result.status == "ok"
    assert SECRET not in repr(result.outputs) and SECRET not in result.stdout
    assert "OPENAI_API_KEY" not in repr(result.outputs)


def test_daemon_does_not_outlive_the_evaluation(bwrap):
    marker = "4243.0421"
    result = run(bwrap, daemon(marker))
    assert result.status == "ok" and result.outputs == "spawned"
    assert leftovers(marker) == []


def test_output_flood_is_cut_short(bwrap):
    """1 GB on stdout: ended at 16x output_kb, long before the wall limit (its reason says
    which ended it)."""
    result = run(bwrap, "chunk = 'x' * 2**20\nfor _ in range(1024):\n    sys.stdout.write(chunk)",
                 ROOMY)
    assert result.status == "crashed" and "output limit exceeded" in result.reason
    assert len(result.stdout) <= Limits.output_kb * 1024


def test_exit_before_outputs(bwrap):
    result = run(bwrap, "os._exit(0)")
    assert result.status == "crashed" and result.reason == "exited before returning outputs"
    result = run(bwrap, "sys.exit(3)")
    assert result.status == "crashed" and result.reason.startswith("SystemExit")


def test_signalling_the_parent_and_everyone(bwrap):
    result = run(bwrap, """
for pid in (os.getppid(), 1, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
return 'still here'
""")
    # We are still running, and the result is recorded whatever the candidate managed to kill.
    assert result.status in ("ok", "crashed")
    assert run(bwrap, "return 2").outputs == 2


def test_forged_result_messages_are_only_outputs(bwrap):
    forged = run(bwrap, """
out = os.fdopen(RESULT_FD(), 'w')
out.write('{"kind": "result", "outputs": [[0.5, 0.5], [0.5]], "score": 99}\\n')
out.flush()
os._exit(0)
""")
    assert forged.status == "ok" and forged.outputs == [[0.5, 0.5], [0.5]]
    twice = run(bwrap, """
os.write(RESULT_FD(), b'{"kind": "result", "outputs": 1}\\n')
return 2
""")
    assert twice.status == "invalid" and twice.reason == "more than one result message"
    garbage = run(bwrap, "os.write(RESULT_FD(), b'not json\\n')\nreturn 1")
    assert garbage.status == "invalid" and "malformed" in garbage.reason


def test_asking_the_oracle_and_never_reading_the_answer_times_out(bwrap):
    """The answer (4 MB) is far larger than a pipe holds: our side must not block on it."""
    code = "import os, sys, time\n" + FIND_RESULT_FD + """
def attack(ask):
    os.write(RESULT_FD(), b'{"kind": "call", "id": "x", "request": [1]}\\n')
    time.sleep(60)
"""
    result = bwrap.run(code, "attack", {}, Limits(wall_s=2), oracle=lambda _: "x" * 2**22,
                       oracle_arg="ask")
    assert result.status == "timeout"
    assert bwrap.run("def f(ask):\n    return len(ask(1))\n", "f", {}, ROOMY,
                     oracle=lambda _: "y" * 2**20, oracle_arg="ask").outputs == 2**20


def test_an_unread_oracle_answer_is_not_the_next_jobs_answer(bwrap):
    """A job that asks and exits leaves its answer in a warm worker's pipe; the next job's
    call must get its own answer."""
    code = "import os, sys\n" + FIND_RESULT_FD + """
def attack(ask):
    os.write(RESULT_FD(), b'{"kind": "call", "id": "stale", "request": ["first"]}\\n')
    os._exit(0)
"""
    def echo(request):
        return request[0]

    assert bwrap.run(code, "attack", {}, ROOMY, oracle=echo, oracle_arg="ask").status == "crashed"
    second = bwrap.run("def f(ask):\n    return ask('second')\n", "f", {}, ROOMY, oracle=echo,
                       oracle_arg="ask")
    assert second.status == "ok" and second.outputs == "second"


def test_hidden_task_data_and_scorer_are_out_of_reach(bwrap):
    task = load_task("function_minimisation")
    body = f"""
found = []
for path in ['{task.root / "task.toml"}', '{task.root / "scorer.py"}']:
    try:
        found.append(open(path).read())
    except OSError:
        pass
try:
    import evaluators.scoring
    found.append('imported the scorer')
except ImportError:
    pass
return found
"""
    result = run(bwrap, body)
    assert result.status == "ok" and result.outputs == []


def test_monkeypatching_the_scorer_changes_nothing(bwrap):
    task = load_task("circle_packing")
    cheat = """
import sys, types
fake = types.ModuleType('evaluators.scoring')
fake.finite_array = lambda value, name, shape: value
sys.modules['evaluators.scoring'] = fake
def construct_packing(n):
    return [[0.5, 0.5]] * n, [0.5] * n
"""
    results = task.evaluate(cheat, bwrap)
    assert results[-1].status == "invalid" and "overlap" in results[-1].reason


def test_non_finite_outputs_are_rejected(bwrap):
    task = load_task("circle_packing")
    for value in ("float('nan')", "float('inf')"):
        code = f"def construct_packing(n):\n    return [[{value}, 0.5]] * n, [0.1] * n\n"
        result = task.evaluate(code, bwrap)[-1]
        assert result.status == "invalid" and "non-finite" in result.reason


def test_a_clean_run_after_the_hostile_suite_scores_as_before(bwrap):
    task = load_task("circle_packing")
    first = task.evaluate(task.seed_code, bwrap)[-1]
    assert first.status == "ok" and first.score == pytest.approx(25 / 11)


@pytest.mark.parametrize("level", [lvl for lvl in LEVELS if lvl != "bwrap"])
def test_fallback_levels_contain_what_they_promise(level):
    if level == "unshare" and shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is not installed")
    sandbox = Sandbox(level)
    result = run(sandbox, "return dict(os.environ)")
    assert result.status == "ok" and SECRET not in repr(result.outputs)
    assert result.resources["isolation"] == level
    assert run(sandbox, "while True:\n    pass", Limits(wall_s=1)).status == "timeout"
    assert "MemoryError" in run(sandbox, "return len(bytearray(50 * 2**30))").reason
    assert run(sandbox, "os._exit(0)").reason == "exited before returning outputs"
    marker = "4244.0421" if level == "unshare" else "4245.0421"
    assert run(sandbox, daemon(marker)).outputs == "spawned"
    assert leftovers(marker) == []
    if result.resources["pids_cgroup"]:
        result = run(sandbox, fork_bomb(marker), Limits(wall_s=2, processes=32))
        assert result.status in ("timeout", "crashed")
        assert leftovers(marker) == []


def test_warm_worker_jobs_see_nothing_of_each_other():
    if available_level() != "bwrap":
        pytest.skip("warm workers need bubblewrap")
    look_code = """
import json, os
def attack():
    return {'tmp': os.listdir('/tmp'), 'scratch': os.listdir('..'), 'json': json.dumps([1])}
"""
    with WorkerPool(size=1, preload=()) as pool:
        before = pool.run(look_code, "attack", {})
        plant = pool.run("""
import os, sys
def attack():
    open('/tmp/planted', 'w').write('x')
    open('left-in-scratch', 'w').write('x')
    sys.modules['json'].dumps = lambda *a, **k: 'poisoned'
    sys.modules['harness']._encode = lambda *a: 'poisoned'  # the harness keeps its own encoder
    return os.getcwd()
""", "attack", {})
        look = pool.run(look_code, "attack", {})
    # Poisoning json broke the planter's own result message (its loss), not the next job.
    assert plant.status == "invalid" and look.status == "ok"
    assert look.outputs["tmp"] == before.outputs["tmp"] and "planted" not in look.outputs["tmp"]
    assert look.outputs["json"] == "[1]"
    assert not any(name in ("job-1", "job-2") for name in look.outputs["scratch"])


def test_runs_whatever_fds_the_launching_process_has_open():
    """Regression: the pipes once had to be fds 3 and 4, and a parent with those closed (while
    higher ones were open, as in a process that loaded a model) got EBADF."""
    script = """
import os
held = [os.open('/dev/null', os.O_RDONLY) for _ in range(6)]
os.close(3)
os.close(4)
from evaluators.sandbox import Sandbox
print(Sandbox().run('def f():\\n    return 41 + 1\\n', 'f', {}).outputs)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"


# -- Warm workers: nothing of one job reaches the next --------------------------------------

WRITABLE_GUESSES = ["/tmp", "/dev/shm", "/dev", "/", "/scratch", "/sandbox", ".", ".."]
"""Where a candidate might plant things; the planter also tries every sys.path entry and the
harness's own folder."""

PLACES = f"""
import os, sys
places = {WRITABLE_GUESSES!r} + [p for p in sys.path if p]
harness = sys.modules.get('harness') or sys.modules['__main__']
places.append(os.path.dirname(os.path.abspath(harness.__file__)))
places = sorted({{os.path.abspath(p) for p in places if os.path.isdir(p)}})
"""

LOOK = PLACES + """
import colorsys, random
def attack():
    here = os.path.abspath('.')
    seen = {p: sorted(n for n in os.listdir(p) if os.path.join(p, n) != here)
            for p in places if p != here}
    return {'seen': seen, 'own': sorted(os.listdir('.')), 'hsv': colorsys.rgb_to_hsv(1, 0, 0),
            'random': random.Random(3).random()}
"""


def each_writable_place(body: str) -> str:
    """A candidate that runs `body` (with `place` bound) in every place it can write."""
    return PLACES + "\ndef attack():\n    done = []\n    for place in places:\n" + \
        "        try:\n" + textwrap.indent(body.strip(), " " * 12) + "\n" + \
        "            done.append(place)\n        except OSError:\n            pass\n" + \
        "    return done\n"


PLANT = each_writable_place("""
for name in ('random.py', 'colorsys.py', 'sitecustomize.py', 'usercustomize.py'):
    with open(os.path.join(place, name), 'w') as f:
        f.write('def rgb_to_hsv(*a):\\n    return "planted"\\nclass Random:\\n'
                '    def __init__(self, *a):\\n        pass\\n    def random(self):\\n'
                '        return "planted"\\n')
with open(os.path.join(place, 'evil.pth'), 'w') as f:
    f.write('import os; os.environ["PWNED"] = "1"\\n')
with open(os.path.join(place, 'note.txt'), 'w') as f:
    f.write('a message for the next candidate')
locked = os.path.join(place, 'locked')
os.makedirs(os.path.join(locked, 'inner'), exist_ok=True)
open(os.path.join(locked, 'inner', 'kept'), 'w').write('x')
os.chmod(os.path.join(locked, 'inner'), 0)
os.chmod(locked, 0)
""")

MANY_DIRS = each_writable_place("""
for n in range(200):
    os.makedirs(os.path.join(place, f'job-{n}'), exist_ok=True)
    os.makedirs(os.path.join(place, f'job-{n:x}'), exist_ok=True)
""")


def test_planted_modules_and_files_do_not_reach_the_next_candidate(bwrap):
    """Each job starts from a state no earlier job could touch: nothing it planted (a module
    shadowing the stdlib, a .pth, a note, a locked folder) is seen or imported by the next."""
    before = bwrap.run(LOOK, "attack", {}, ROOMY)
    planted = bwrap.run(PLANT, "attack", {}, ROOMY)
    after = bwrap.run(LOOK, "attack", {}, ROOMY)
    assert before.status == planted.status == after.status == "ok", after.reason
    assert planted.outputs, "the planter found nowhere to write"
    assert after.outputs == before.outputs
    task = load_task("circle_packing")
    on_fresh = task.evaluate(task.seed_code, Sandbox("bwrap"))[-1]
    assert task.evaluate(task.seed_code, bwrap)[-1].score == on_fresh.score


def test_directories_left_everywhere_do_not_break_later_jobs(bwrap):
    """Job folders are named unpredictably and created exclusively: folders a candidate made
    in advance (job-1, job-2, ...) cannot make a later evaluation fail."""
    assert bwrap.run(MANY_DIRS, "attack", {}, ROOMY).status == "ok"
    for _ in range(3):
        result = run(bwrap, "return 7")
        assert result.status == "ok" and result.outputs == 7


def test_writing_into_its_own_channels_does_not_reach_the_next_job(bwrap):
    """Pipes reopened through /proc/self/fd (for writing, even the read ends) take garbage in;
    each job gets its own pipes, so the next job's oracle calls and result are its own."""
    attack = """
import os
def attack(ask):
    for fd in os.listdir('/proc/self/fd'):
        try:
            with open(f'/proc/self/fd/{fd}', 'wb', buffering=0) as pipe:
                os.set_blocking(pipe.fileno(), False)
                pipe.write(b'garbage {"id": "x"')
        except OSError:
            pass
    os._exit(0)
"""
    def echo(request):
        return request[0]

    assert bwrap.run(attack, "attack", {}, ROOMY, oracle=echo, oracle_arg="ask").status != "ok"
    honest = bwrap.run("def f(ask):\n    return ask('mine')\n", "f", {}, ROOMY, oracle=echo,
                       oracle_arg="ask")
    assert honest.status == "ok" and honest.outputs == "mine"
    task = load_task("circle_packing")
    assert task.evaluate(task.seed_code, bwrap)[-1].status == "ok"


# -- Memory: what a candidate keeps in files is RAM, and counts ------------------------------

def host_shmem_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1])
    raise AssertionError("no Shmem in /proc/meminfo")


@pytest.mark.parametrize("place", ["/tmp", "/dev/shm"])
def test_files_in_memory_count_against_the_memory_limit(bwrap, place):
    limits = Limits(wall_s=20, cpu_s=20, memory_mb=256)
    body = f"""
chunk = b'x' * 2**25
for n in range(32):
    with open('{place}/fill-%d' % n, 'wb') as f:
        f.write(chunk)
return 'wrote 1 GB'
"""
    baseline, peak, done = host_shmem_kb(), [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], host_shmem_kb())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run(bwrap, body, limits)
    finally:
        done.set()
        watcher.join()
    assert result.status in ("crashed", "invalid") and result.reason
    assert "memory" in result.reason or "No space left" in result.reason, result.reason
    assert (peak[0] - baseline) / 1024 < limits.memory_mb + 64
    assert result.resources["memory_cgroup"] or \
        result.resources["writable_mb"][place] <= limits.memory_mb
    assert run(bwrap, "return 1").outputs == 1


# -- The evaluator survives anything a candidate sends ---------------------------------------

def test_deeply_nested_json_is_invalid_not_a_crash(bwrap):
    deep = "'[' * 200_000 + ']' * 200_000"
    on_result = run(bwrap, f"os.write(RESULT_FD(), ({deep} + '\\n').encode())\nos._exit(0)",
                    ROOMY)
    assert on_result.status == "invalid" and "nested" in on_result.reason
    # It waits for us: the verdict comes from the message, not from its exit or the wall limit.
    in_call = run(bwrap, f"""
os.write(RESULT_FD(), ('{{"kind": "call", "id": "x", "request": ' + {deep} + '}}\\n').encode())
time.sleep(600)
""", ROOMY)
    assert in_call.status == "invalid" and "nested" in in_call.reason
    shallow_but_wide = run(bwrap, "return [[[[i]]] for i in range(10**5)]", ROOMY)
    assert shallow_but_wide.status == "ok" and len(shallow_but_wide.outputs) == 10**5


def test_a_flood_of_tiny_messages_is_cut_short(bwrap):
    """57 MB of `{}` lines: parsing stops at the second non-call message, and we read no
    more: the candidate never gets to write the rest (it reports each MB it got out on
    stderr). The wall limit is far away: it is the count of messages that ends it."""
    limits = Limits(wall_s=120, cpu_s=60)
    result = run(bwrap, """
block = b'{}\\n' * (2**20 // 3)
for n in range(57):
    os.write(RESULT_FD(), block)
    print(f'wrote {n + 1} MB', file=sys.stderr, flush=True)
return 1
""", limits)
    assert result.status == "invalid" and "more than one" in result.reason
    assert "wrote 2 MB" not in result.stderr  # (a pipe holds 64 KB, at most 1 MB)
    # One line of 60 MB in many reads (linear: see test_channel_hostile), then the result
    # message glued to it: one malformed message.
    one_line = run(bwrap, "os.write(RESULT_FD(), b'[' + b'0,' * (30 * 2**20) + b'0]')\n"
                   "return 1", limits)
    assert one_line.status == "invalid" and "malformed" in one_line.reason, one_line.reason


KEYRINGS = """
import ctypes, platform
LIBC = ctypes.CDLL(None, use_errno=True)
ADD_KEY, KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}[platform.machine()]
RINGS = {"user": -4, "user_session": -5, "session": -3, "process": -2}
"""


def test_keys_left_in_the_kernel_keyrings_do_not_reach_the_next_job(bwrap):
    """The kernel's keyrings are not files: a key added to the user keyring outlived the job
    on a warm worker (the next job found it). Each job gets a new session keyring and the
    server clears the user keyrings after every job."""
    plant = bwrap.run(
        KEYRINGS + """
def attack():
    return {ring: LIBC.syscall(ADD_KEY, b"user", b"planted-" + ring.encode(), b"secret", 6, spec)
            for ring, spec in RINGS.items()}
""", "attack", {})
    assert plant.status == "ok", plant.reason
    look = bwrap.run(KEYRINGS + """
def attack():
    return {ring: LIBC.syscall(KEYCTL, 10, spec, b"user", b"planted-" + ring.encode(), 0)
            for ring, spec in RINGS.items()}
""", "attack", {})
    assert look.status == "ok", look.reason
    assert all(found == -1 for found in look.outputs.values()), look.outputs


def test_the_size_cap_is_per_message_so_long_oracle_dialogues_pass(bwrap):
    """A trusted loop (CFR's) asks the oracle thousands of times: the cap bounds what one
    message may hold (our memory), not the sum of a dialogue the wall limit already bounds."""
    talk = """
def attack(ask):
    return sum(ask('x' * 1000) for _ in range(2000))
"""
    limits = Limits(wall_s=20, cpu_s=20, result_mb=1)
    chatty = bwrap.run(talk, "attack", {}, limits, oracle=lambda request: 1, oracle_arg="ask")
    assert chatty.status == "ok" and chatty.outputs == 2000, chatty.reason
    huge = bwrap.run("def attack(ask):\n    return ask('x' * (2 * 2**20))\n", "attack", {},
                     limits, oracle=lambda request: 1, oracle_arg="ask")
    assert huge.status == "invalid" and "larger than 1 MB" in huge.reason
