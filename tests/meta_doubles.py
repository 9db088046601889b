"""The meta room's test doubles, shared by its test modules (which never import each
other): scripted inner answers for circle packing and a copy of the meta room whose case
holds the problems a test names."""

import json
import shutil

from evaluators.catalog import TASKS_DIR

PACKING = '''```python
def construct_packing(n):
    """Staggered rows ({name})."""
    aspect = {aspect}
    columns = max(1, round(math.sqrt(n) * aspect))
    rows = math.ceil(n / columns)
    centers = []
    for i in range(n):
        row, column = divmod(i, columns)
        centers.append([(column + 0.5 + 0.5 * (row % 2)) / (columns + 0.5), (row + 0.5) / rows])
    {end}
```'''
CRASH_1 = PACKING.format(name="broken", aspect=1.0, end="raise ValueError('no packing')")
CRASH_2 = PACKING.format(name="broken too", aspect=1.0, end="return None")
GOOD = PACKING.format(name="narrower rows", aspect=0.8, end="return centers, fit_radii(centers)")
"""The inner model's answers, in a cycle: two that crash, then one that beats the seed. The
seed proposer takes one answer a step, so in two steps it meets only the crashes; a proposer
that drafts two answers and keeps the better by `evaluate` finds the good one."""


def meta_task(tmp_path, problems: list[dict], cpu_s: int = 300):
    """A copy of the meta room whose meta_proposer case holds `problems` (no held-out stage),
    the candidate limited to `cpu_s` seconds of CPU."""
    room = shutil.copytree(TASKS_DIR / "meta", tmp_path / "meta")
    toml = room / "meta_proposer" / "task.toml"
    text = toml.read_text().split("[[stages]]")[0]
    rows = ", ".join("{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in p.items()) + " }"
                     for p in problems)
    toml.write_text(text + f'[[stages]]\nname = "train"\nlimits = {{ wall_s = 600, '
                    f'cpu_s = {cpu_s}, processes = 64 }}\ncases = [{{ name = "train", secret = '
                    f'{{ problems = [{rows}] }} }}]\n')
    return room / "meta_proposer"


def script(path, answers: list[str]):
    """A scripted model's file (a test double): `answers` in order, cycling."""
    path.write_text("".join(json.dumps({"text": a}) + "\n" for a in answers))
    return path
