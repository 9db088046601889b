"""The trusted scorer of a converted peer task (`discover convert`): the candidate's entry point
runs in the sandbox as in any native task, and its outputs, plain data, are replayed to the
peer's own evaluator in the trusted process through a stub program whose entry point returns
them. The evaluator never sees the candidate's code, so its score is trustworthy.

This works where the evaluator calls one function of the program without arguments it chooses
(circle packing's `run_packing()`, function minimisation's `run_search()`); the replayed value is
the same on every call, so an evaluator that calls it several times (trials) sees one answer
repeated. Where the evaluator passes its own arguments (`approximate(x)` for many x) or reads the
program's source, `discover convert` says it cannot convert the scorer."""

import ast
import contextlib
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from archive.pyparse import parse_python
from evaluators.peers.driver import call_evaluator
from evaluators.peers.formats import PeerFolder
from evaluators.peers.scorer import peer_metrics
from evaluators.scoring import Metrics

TRUST = ("converted peer evaluator: it ran in the trusted process on the candidate's outputs "
         "only")

STUB = '''"""Replays a candidate's outputs to the evaluator (evaluators/peers/replay.py)."""
import json

import numpy as np

_OUTPUTS = json.loads({text!r})


def _restore(value, top=False):
    if isinstance(value, list):
        if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return tuple(value) if top else np.asarray(value, dtype=float)
        if value and all(isinstance(v, list) for v in value) and not top:
            try:
                return np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                pass
        items = [_restore(v) for v in value]
        return tuple(items) if top else items
    if isinstance(value, dict):
        return {{k: _restore(v) for k, v in value.items()}}
    return value


def {entry}(*args, **kwargs):
    return _restore(_OUTPUTS, top=True)
'''


def replay_score(evaluator: Path, kind: str, function: str, entry: str,
                 outputs: Any) -> Metrics:
    """The peer evaluator's `function` on a stub whose `entry` returns `outputs`, as Metrics.
    The evaluator's prints are kept out of our output."""
    text = json.dumps(outputs, allow_nan=True)
    with tempfile.TemporaryDirectory(prefix="discovery-replay-") as folder:
        program = Path(folder) / "program.py"
        program.write_text(STUB.format(text=text, entry=entry), encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(
                io.StringIO()):
            answer = call_evaluator(str(evaluator), function, kind, str(program),
                                    str(Path(folder) / "results"))
    return peer_metrics(answer, TRUST)


def replay_entry(folder: PeerFolder) -> tuple[str | None, str]:
    """The program's function the evaluator calls (None: none found), and why a replay cannot
    stand in for it ("" where it can). Found in the evaluator's text (Shinka's
    `experiment_fn_name="..."`, `program.NAME`, `getattr(module, "NAME")`,
    `hasattr(program, "NAME")`) among the initial program's functions; it must take no
    required arguments, since the evaluator's own arguments cannot be replayed."""
    source = (folder.root / folder.evaluator).read_text(encoding="utf-8")
    program = parse_python((folder.root / folder.program).read_text(encoding="utf-8"))
    defined = {n.name: n for n in program.body if isinstance(n, ast.FunctionDef)}
    patterns = (r"experiment_fn_name\s*=\s*[\"'](\w+)", r"\b(?:program|module)\.(\w+)",
                r"(?:get|has)attr\(\s*\w+\s*,\s*[\"'](\w+)")
    names = [m for p in patterns for m in re.findall(p, source) if m in defined]
    if not names:
        return None, (f"{folder.evaluator} calls no function of {folder.program} that could "
                      "be found by reading it")
    entry = names[0]
    args = defined[entry].args
    required = len(args.posonlyargs + args.args) - len(args.defaults)
    if required > 0:
        return entry, (f"{folder.evaluator} calls {entry}() with arguments of its own choosing; "
                      "replaying the candidate's outputs cannot stand in for that")
    if re.search(r"read_text\(|open\(\s*program_path", source):
        return entry, f"{folder.evaluator} reads the program's source, which a replay hides"
    return entry, ""
