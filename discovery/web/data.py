"""What the page shows, built from the archive: one compact payload for the whole campaign (the
lineage as columns of numbers, the charts' series) and one record per program for its details.

The payload is columnar (`nodes.id`, `nodes.parent`, ...) with strings interned into small
tables, because the page draws 100k programs: about 45 bytes a program, where a list of
objects would spend most of its bytes on repeated keys. Code, diffs and model calls are left to
the per-program records, which the page asks for when a program is clicked.

Every query is a short read through `ArchiveReader` (autocommit: each statement is its own
read transaction), so a running campaign's writer is never held up by a viewer.
"""

import hashlib
import json
import math
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from archive import ArchiveReader, Evaluation, Program
from archive.store import PROGRAM_STATUSES
from discovery.search.edits import design_notes

NODE_CHUNK = 100
"""Programs per static-export detail file (`nodes/<id // NODE_CHUNK>.js`): 100k programs make
1,000 files of a few hundred kB, not 100k tiny ones."""

SPENDING_POINTS = 400
"""Points per model in the cost-over-time series: enough for a chart a screen wide."""

REPORT_DIR = "report"
"""Where `discover report` writes its plots, inside the run directory."""


class ViewReader(ArchiveReader):
    """The archive reader plus the few queries only the view needs (model calls of given
    programs, spending per model), kept here rather than in the archive's public API."""

    def stamp(self) -> str:
        """Changes whenever the campaign writes: the page polls it and reloads on a change."""
        count, top = self._conn.execute("SELECT count(*), max(id) FROM programs").fetchone()
        updated, version = self._conn.execute(
            "SELECT updated_at, evaluator_version FROM campaign WHERE id = 1").fetchone()
        return f"{count}:{top}:{updated!r}:{version}"

    def calls_of(self, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """The model calls recorded against each program (the proposal and its repair turns)."""
        calls: dict[int, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), 900):
            part = list(ids[start:start + 900])
            for row in self._conn.execute(
                "SELECT program_id, model, purpose, tokens_in, tokens_out, cost, latency_s, "
                "raw_response, error, created_at FROM model_calls "
                f"WHERE program_id IN ({','.join('?' * len(part))}) ORDER BY id", part,
            ):
                keys = ("model", "purpose", "tokens_in", "tokens_out", "cost", "latency_s",
                        "answer", "error", "created_at")
                calls.setdefault(row[0], []).append(dict(zip(keys, row[1:], strict=True)))
        return calls

    def spending_by_model(self) -> list[tuple[float, str, int, float]]:
        """(created_at, model, tokens in + out, cost) of every model call, oldest first."""
        return self._conn.execute(
            "SELECT created_at, model || CASE WHEN purpose = 'agent' THEN ' (agent)' ELSE '' END,"
            " coalesce(tokens_in, 0) + coalesce(tokens_out, 0), coalesce(cost, 0) "
            "FROM model_calls ORDER BY created_at, id").fetchall()


class Transcripts:
    """The prompts behind recorded answers: `transcript.jsonl` (written next to the archive when
    the campaign's `transcript` option is on) holds each exchange's messages and answer text;
    the archive holds the answer only. An answer is matched to its prompt by (model, text).

    A long campaign's transcript runs to gigabytes of prompts, so only where each record starts
    is kept (by a digest of its answer), and a prompt is read from the file when asked for. The
    file grows while a campaign runs, so it is indexed on from where the last look stopped."""

    def __init__(self, path: Path):
        self.path = path
        self._indexed = 0
        self._where: dict[tuple[str, bytes], int] = {}
        self._lock = threading.Lock()

    def prompt(self, model: str, answer: str | None) -> list[dict[str, Any]] | None:
        if answer is None or not self.path.is_file():
            return None
        with self._lock, self.path.open("rb") as file:
            self._index_on(file)
            start = self._where.get((model, _digest(answer)))
            if start is None:
                return None
            file.seek(start)
            return json.loads(file.readline())["messages"]

    def _index_on(self, file: BinaryIO) -> None:
        file.seek(self._indexed)
        for line in file:
            if not line.endswith(b"\n"):
                break  # a line the campaign is still writing: indexed on the next look
            try:
                record = json.loads(line)
                self._where[(record["model"], _digest(record["text"]))] = self._indexed
            except (ValueError, KeyError, TypeError):
                pass  # not a transcript record: the replayer reports those, not the view
            self._indexed += len(line)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _rounded(score: float | None) -> float | None:
    """Scores to 7 significant digits: the page shows 6, and the payload shrinks by a third."""
    return None if score is None or not math.isfinite(score) else float(f"{score:.7g}")


def _interned(values: Iterable[str | None], table: list[str]) -> list[int]:
    """Each value's index in `table` (appended when new); None becomes -1."""
    index = {v: i for i, v in enumerate(table)}
    out = []
    for value in values:
        if value is None:
            out.append(-1)
            continue
        if value not in index:
            index[value] = len(table)
            table.append(value)
        out.append(index[value])
    return out


def _thinned(points: list[list[float]], limit: int = SPENDING_POINTS) -> list[list[float]]:
    """At most `limit` evenly spaced points of a cumulative series, the last one always kept."""
    if len(points) <= limit:
        return points
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit - 1)] + [points[-1]]


def campaign_data(reader: ViewReader, reports: Sequence[str] = (), *,
                  static: bool = False) -> dict[str, Any]:
    """The page's payload: the campaign, its lineage in columns, and the charts' series."""
    stamp = reader.stamp()
    campaign = reader.campaign()
    rows, edges = reader.lineage_rows()
    start = campaign.created_at
    parent = {child: p for p, child, position in edges if position == 0}
    statuses, kinds, models = list(PROGRAM_STATUSES), [], []
    best = reader.best()
    spending: dict[str, list[list[float]]] = {}
    totals: dict[str, tuple[int, float]] = {}
    for created, model, tokens, cost in reader.spending_by_model():
        done_tokens, done_cost = totals.get(model, (0, 0.0))
        totals[model] = (done_tokens + tokens, done_cost + cost)
        spending.setdefault(model, []).append(
            [round(created - start, 1), totals[model][0], round(totals[model][1], 6)])
    return {
        "static": static,
        "stamp": stamp,
        "campaign": {"name": campaign.name, "task": campaign.task, "seed": campaign.seed,
                     "evaluator_version": campaign.evaluator_version,
                     "created_at": campaign.created_at, "updated_at": campaign.updated_at,
                     "path": str(reader.path)},
        "statuses": statuses,
        "kinds": kinds,
        "models": models,
        "nodes": {
            "id": [r[0] for r in rows],
            "parent": [parent.get(r[0], -1) for r in rows],
            "status": _interned((r[1] for r in rows), statuses),
            "score": [_rounded(r[2]) for r in rows],
            "island": [r[3] for r in rows],
            "model": _interned((r[4] for r in rows), models),
            "kind": _interned((r[6] for r in rows), kinds),
            "t": [round(r[7] - start, 1) for r in rows],
        },
        "crossovers": sorted([child, p] for p, child, position in edges if position > 0),
        "best": best.id if best else None,
        "best_lineage": reader.ancestry(best.id) if best else [],
        "counts": reader.status_counts(),
        "failures": reader.failures_by_reason(limit=12),
        "usage": [u.__dict__ for u in reader.model_usage()],
        "spending": {model: _thinned(points) for model, points in spending.items()},
        "insights": [{"t": round(t - start, 1), "after": d.get("after"),
                      "insights": d.get("insights", "")}
                     for t, _, d in reversed(reader.events("scratchpad", limit=1000))],
        "reports": list(reports),
        "node_chunk": NODE_CHUNK,
    }


def _evaluation(e: Evaluation) -> dict[str, Any]:
    return {"stage": e.stage, "status": e.status, "score": e.score, "final": e.final,
            "public": e.public_metrics, "private": e.private_metrics, "reason": e.reason,
            "error_tail": e.error_tail, "duration_s": e.duration_s, "resources": e.resources}


def node_details(reader: ViewReader, ids: Sequence[int],
                 transcripts: Transcripts) -> dict[int, dict[str, Any]]:
    """Everything the page shows for each program: code, diff against its primary parent (as
    the archive stored it when the program was added), design notes, evaluations per stage
    with private metrics apart, and the model calls that produced it with their prompts."""
    programs: list[Program] = reader.programs(ids)
    calls = reader.calls_of([p.id for p in programs])
    details = {}
    for p in programs:
        notes = design_notes(p.code)
        own = calls.get(p.id, [])
        for call in own:
            call["prompt"] = transcripts.prompt(call["model"], call["answer"])
        details[p.id] = {
            "id": p.id, "status": p.status, "score": p.score, "parents": list(p.parents),
            "inspirations": list(p.inspirations), "children": reader.children(p.id),
            "island": p.island, "generation": p.generation, "model": p.model,
            "edit_kind": p.edit_kind, "prompt_template": p.prompt_template,
            "evaluator_version": p.evaluator_version, "created_at": p.created_at,
            "code": p.code, "diff": p.diff,
            # the edit as written, unless a recorded call's answer already shows it
            "edit_text": None if any(c["answer"] == p.edit_text for c in own) else p.edit_text,
            "name": notes.name if notes else None, "thought": notes.thought if notes else None,
            "evaluations": [_evaluation(e) for e in reader.evaluations(p.id)],
            "calls": own,
        }
    return details


def report_images(run_dir: Path) -> list[str]:
    """The PNGs `discover report` left in the run directory, as paths relative to it."""
    folder = run_dir / REPORT_DIR
    return sorted(f"{REPORT_DIR}/{p.name}" for p in folder.glob("*.png")) if folder.is_dir() \
        else []


def dumps(value: Any) -> str:
    """Compact, strict JSON. The archive stores metrics and scores finite or null, so a NaN
    here is a bug to hear about, not a token to hand to the browser's parser, which refuses it."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
