"""What the page shows, built from the archive: one compact payload for the whole campaign (the
lineage as columns of numbers, the charts' series) and one record per program for its details.

The payload is columnar (`nodes.id`, `nodes.parent`, ...) with strings interned into small
tables, because the page draws 100k programs: about 45 bytes a program, where a list of
objects would spend most of its bytes on repeated keys. Code, diffs and model calls are left to
the per-program records, which the page asks for when a program is clicked.

Every query is a short read through `ArchiveReader` (autocommit: each statement is its own
read transaction), so a running campaign's writer is never held up by a viewer.
"""

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from archive import ArchiveReader, Evaluation, Program
from archive.prompt_archive import mutations, variant_stats
from archive.records import HeldOut
from archive.store import PROGRAM_STATUSES
from discovery.double_label import campaign_label
from discovery.loop.liveness import run_state
from discovery.models.transcripts import TranscriptIndex, transcript_of
from discovery.search.edits import design_notes

NODE_CHUNK = 100
"""Programs per static-export detail file (`nodes/<id // NODE_CHUNK>.js`): 100k programs make
1,000 files of a few hundred kB, not 100k tiny ones. Iterations that made no program are
chunked the same way by their number (`iterations/<n // NODE_CHUNK>.js`)."""

NO_PROGRAM = "no program"
"""The status of an iteration that committed no program, as `ArchiveReader.iterations` has it."""

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

    def calls_of(self, ids: Sequence[int], column: str = "program_id"
                 ) -> dict[int, list[dict[str, Any]]]:
        """The model calls recorded against each program (the proposal and its repair turns),
        or with `column="iteration"` against each iteration, in one query per 900 ids (a static
        export asks for a hundred programs at a time)."""
        calls: dict[int, list[dict[str, Any]]] = {}
        keys = ("model", "purpose", "tokens_in", "tokens_out", "cost", "latency_s", "answer",
                "error", "iteration", "call_id", "created_at")
        for start in range(0, len(ids), 900):
            part = list(ids[start:start + 900])
            for row in self._conn.execute(
                f"SELECT {column}, model, purpose, tokens_in, tokens_out, cost, latency_s, "
                "raw_response, error, iteration, call_id, created_at FROM model_calls "
                f"WHERE {column} IN ({','.join('?' * len(part))}) ORDER BY id", part,
            ):
                calls.setdefault(row[0], []).append(dict(zip(keys, row[1:], strict=True)))
        return calls

    def no_program_rows(self) -> list[tuple]:
        """(n, island, model, status, reason, calls, parent) of every iteration that made
        no program, by number: the committed ones (a refused edit, a failed model call) and
        those whose calls were recorded but which never committed ("unfinished"). What
        `ArchiveReader.iterations` says of them, read in SQL: the payload is rebuilt on every
        commit, and parsing every iteration's event in Python costs seconds at 100k."""
        return self._conn.execute(
            "SELECT n, island, model, status, reason, "
            "(SELECT count(*) FROM model_calls c WHERE c.iteration = n), parent FROM ("
            " SELECT json_extract(data, '$.n') AS n, json_extract(data, '$.island') AS island,"
            " json_extract(data, '$.model') AS model, json_extract(data, '$.status') AS status,"
            " json_extract(data, '$.reason') AS reason, json_extract(data, '$.parent') AS parent"
            " FROM events"
            " WHERE kind = 'iteration' AND json_extract(data, '$.program') IS NULL"
            " UNION ALL"
            " SELECT iteration, NULL, min(model), 'unfinished', NULL, NULL FROM model_calls"
            " WHERE iteration IS NOT NULL AND iteration NOT IN ("
            "  SELECT json_extract(data, '$.n') FROM events WHERE kind = 'iteration')"
            " GROUP BY iteration) ORDER BY n").fetchall()

    def iteration_numbers(self, ids: Sequence[int] | None = None) -> dict[int, int]:
        """The iteration that committed each program (seeds and copies included), of every
        program when `ids` is None. Each call scans the events (they have no index by
        program), so a static export asks once for all, a click for its program."""
        where, params = ("", []) if ids is None else (
            f" AND program_id IN ({','.join('?' * len(ids))})", list(ids))
        return dict(self._conn.execute(
            "SELECT program_id, json_extract(data, '$.n') FROM events WHERE kind = "
            f"'iteration' AND program_id IS NOT NULL{where}", params))

    def spending_by_model(self) -> list[tuple[float, str, int, float]]:
        """(created_at, model, tokens in + out, cost) of every model call, oldest first."""
        return self._conn.execute(
            "SELECT created_at, model || CASE WHEN purpose = 'agent' THEN ' (agent)' ELSE '' END,"
            " coalesce(tokens_in, 0) + coalesce(tokens_out, 0), coalesce(cost, 0) "
            "FROM model_calls ORDER BY created_at, id").fetchall()


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


def state_data(run_dir: Path) -> dict[str, Any]:
    """Whether the campaign is running, stalled, stopped, finished, interrupted, failed or dead,
    why, since when, and what it has in flight (`discovery.loop.liveness`). It changes with
    no write to the archive (a heartbeat stops), so the page gets it with every poll."""
    state = run_state(run_dir)
    return {"state": state.state, "reason": state.reason, "since": state.since,
            "in_flight": list(state.in_flight)}


def _finite(value: Any) -> Any:
    """A metric as strict JSON takes it: a float that is not finite becomes None."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def held_out_data(held: HeldOut | None, start: float) -> dict[str, Any] | None:
    """The held-out result measured at the campaign's last stop, as the page shows it beside
    the search score of the same program, with the gap."""
    if held is None:
        return None
    return {"program": held.program_id, "score": _finite(held.score),
            "search": _finite(held.search_score), "gap": _finite(held.gap),
            "status": held.status, "reason": held.reason,
            "metrics": {k: _finite(v) for k, v in held.metrics.items()},
            "t": round(held.created_at - start, 1)}


def failures(reader: ArchiveReader, limit: int = 12) -> list[tuple[str, str, int]]:
    """Failures by reason, the iterations that made no program (a refused edit, a failed model
    call) counted beside the failed programs: (status or "no program", reason, count)."""
    refused: dict[str, int] = {}
    for _, reason, n in reader.refusals_by_reason(limit):
        refused[reason] = refused.get(reason, 0) + n
    rows = [*reader.failures_by_reason(limit),
            *((NO_PROGRAM, reason, n) for reason, n in refused.items())]
    return sorted(rows, key=lambda row: -row[2])[:limit]


def _no_program(reader: ViewReader, statuses: list[str], models: list[str]) -> dict[str, list]:
    """The iterations that made no program (the tree cannot show them), as columns, with the
    program each started from (-1: unknown, in archives from before iterations recorded it);
    their reasons are interned in their own table (`reasons`), being long and often
    repeated."""
    rows = reader.no_program_rows()
    reasons: list[str] = []
    return {"n": [r[0] for r in rows],
            "island": [-1 if r[1] is None else r[1] for r in rows],
            "model": _interned((r[2] for r in rows), models),
            "status": _interned((r[3] for r in rows), statuses),
            "reason": _interned((r[4] for r in rows), reasons),
            "reasons": reasons,
            "calls": [r[5] for r in rows],
            "parent": [-1 if r[6] is None else r[6] for r in rows]}


def campaign_data(reader: ViewReader, reports: Sequence[str] = (), *,
                  static: bool = False) -> dict[str, Any]:
    """The page's payload: the campaign, its lineage in columns, the iterations that made no
    program, the held-out result, and the charts' series."""
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
        "state": state_data(reader.path.parent),
        "campaign": {"name": campaign.name, "task": campaign.task, "seed": campaign.seed,
                     "evaluator_version": campaign.evaluator_version,
                     "created_at": campaign.created_at, "updated_at": campaign.updated_at,
                     "test_doubles": campaign_label(reader)},
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
        "no_program": _no_program(reader, statuses, models),
        "crossovers": sorted([child, p] for p, child, position in edges if position > 0),
        "best": best.id if best else None,
        "held_out": held_out_data(reader.held_out(), start),
        "best_lineage": reader.ancestry(best.id) if best else [],
        "counts": reader.status_counts(),
        "failures": failures(reader),
        "usage": [u.__dict__ for u in reader.model_usage()],
        "spending": {model: _thinned(points) for model, points in spending.items()},
        "insights": [{"t": round(t - start, 1), "after": d.get("after"),
                      "insights": d.get("insights", "")}
                     for t, _, d in reversed(reader.events("scratchpad", limit=1000))],
        "reports": list(reports),
        "prompts": prompt_data(reader),
        "node_chunk": NODE_CHUNK,
    }


def prompt_data(reader: ArchiveReader) -> dict[str, list[dict[str, Any]]]:
    """The prompt archive of `[prompt_evolution]` (empty lists when it is off): each variant
    with its texts, its parent and what its proposals earned, and every mutation tried. A
    campaign holds a few dozen variants of a few kB at most, so they travel whole."""
    return {"variants": [{**dataclasses.asdict(s.variant), "uses": s.uses,
                          "mean": _finite(s.mean) if s.uses else None}
                         for s in variant_stats(reader)],
            "mutations": mutations(reader)}


def _evaluation(e: Evaluation) -> dict[str, Any]:
    return {"stage": e.stage, "status": e.status, "score": e.score, "final": e.final,
            "public": e.public_metrics, "private": e.private_metrics, "reason": e.reason,
            "error_tail": e.error_tail, "duration_s": e.duration_s, "resources": e.resources}


def _with_prompts(calls: dict[int, list[dict[str, Any]]],
                  transcripts: TranscriptIndex) -> dict[int, list[dict[str, Any]]]:
    """Each call with the prompt of its own exchange in the transcript, found by the call id
    recorded with it (never by its answer's text: two calls may answer alike)."""
    exchanges = transcripts.exchanges([c["call_id"] for own in calls.values() for c in own])
    for own in calls.values():
        for call in own:
            exchange = exchanges.get(call["call_id"]) if call["call_id"] else None
            call["prompt"] = exchange.messages if exchange else None
    return calls


def node_details(reader: ViewReader, ids: Sequence[int], transcripts: TranscriptIndex,
                 iterations: dict[int, int] | None = None) -> dict[int, dict[str, Any]]:
    """Everything the page shows for each program: code, diff against its primary parent (as
    the archive stored it when the program was added), design notes, evaluations per stage
    with private metrics apart, the iteration that made it, and the model calls that produced
    it with their prompts. `iterations`: every program's iteration number, read once by a
    caller that asks for many programs (`ViewReader.iteration_numbers()`)."""
    programs: list[Program] = reader.programs(ids)
    calls = _with_prompts(reader.calls_of([p.id for p in programs]), transcripts)
    if iterations is None:
        iterations = reader.iteration_numbers([p.id for p in programs])
    details = {}
    for p in programs:
        notes = design_notes(p.code)
        own = calls.get(p.id, [])
        details[p.id] = {
            "id": p.id, "status": p.status, "score": p.score, "parents": list(p.parents),
            "inspirations": list(p.inspirations), "children": reader.children(p.id),
            "island": p.island, "generation": p.generation, "model": p.model,
            "edit_kind": p.edit_kind, "prompt_template": p.prompt_template,
            "prompt_variant": p.prompt_variant,
            "evaluator_version": p.evaluator_version, "created_at": p.created_at,
            "iteration": iterations.get(p.id), "code": p.code, "diff": p.diff,
            # the edit as written, unless a recorded call's answer already shows it
            "edit_text": None if any(c["answer"] == p.edit_text for c in own) else p.edit_text,
            "name": notes.name if notes else None, "thought": notes.thought if notes else None,
            "evaluations": [_evaluation(e) for e in reader.evaluations(p.id)],
            "calls": own,
        }
    return details


def iteration_details(reader: ViewReader, numbers: Sequence[int],
                      transcripts: TranscriptIndex) -> dict[int, dict[str, Any]]:
    """What the page shows for each iteration, program or not: what was planned, what came of
    it and why, and its model calls with their prompts and answers (a refused edit's calls
    belong to no program, so this is the only way to them)."""
    wanted = set(numbers)
    found = [i for i in reader.iterations(min(wanted), max(wanted)) if i.n in wanted] \
        if wanted else []
    calls = _with_prompts(reader.calls_of([i.n for i in found], "iteration"), transcripts)
    return {i.n: {**{k: _finite(v) for k, v in dataclasses.asdict(i).items()},
                  "calls": calls.get(i.n, [])} for i in found}


def transcripts(reader: ArchiveReader) -> TranscriptIndex:
    """The transcript that holds the campaign's exchanges (its own, or the one it replays)."""
    return TranscriptIndex(transcript_of(reader.path.parent, reader.campaign().config))


def report_images(run_dir: Path) -> list[str]:
    """The PNGs `discover report` left in the run directory, as paths relative to it."""
    folder = run_dir / REPORT_DIR
    return sorted(f"{REPORT_DIR}/{p.name}" for p in folder.glob("*.png")) if folder.is_dir() \
        else []


def dumps(value: Any) -> str:
    """Compact, strict JSON. The archive stores metrics and scores finite or null, so a NaN
    here is a bug to hear about, not a token to hand to the browser's parser, which refuses it."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
