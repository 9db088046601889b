"""The SQLite lineage store: one file per campaign, a reader for everything, a writer for the loop.

WAL mode lets any number of readers (the CLI, a dashboard) inspect a file while the campaign
loop writes to it. With `synchronous=NORMAL` a committed transaction survives a kill -9 of the
writer (only a power cut can lose the last commits), which is what crash-safe resume relies on.
"""

import contextlib
import difflib
import hashlib
import json
import math
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from archive.errors import ArchiveError
from archive.reasons import reason_key
from archive.records import (
    Campaign,
    Evaluation,
    EvaluationResult,
    HeldOut,
    Iteration,
    ModelCall,
    ModelUsage,
    NewProgram,
    Program,
    PromptUse,
    PromptVariant,
    RecordedCall,
    Summary,
)
from archive.sampling import weighted_choice
from archive.schema import STATUSES, migrate

ARCHIVE_FILE = "archive.sqlite"
PROGRAM_STATUSES = ("pending", *STATUSES)

_PROGRAM_COLUMNS = (
    "id, code, code_hash, language, island, generation, model, prompt_template, edit_kind, "
    "edit_text, diff, created_at, status, score, evaluator_version, n_children, prompt_variant"
)


_CALL_COLUMNS = ("id, model, purpose, tokens_in, tokens_out, cost, latency_s, raw_response, "
                 "error, program_id, iteration, call_id, created_at")
"""A model call's row, in the order of `RecordedCall`'s fields (ModelCall's, then its own)."""

_LINEAGE_COLUMNS = "id, status, score, island, model, generation, edit_kind, created_at"
"""A program's node in the lineage graph (archive.lineage.NODE_KEYS, after its id)."""


def code_hash(code: str) -> str:
    """Hash of the code with trailing white space dropped, so re-indented copies still match."""
    normal = "\n".join(line.rstrip() for line in code.strip().splitlines())
    return hashlib.sha256(normal.encode()).hexdigest()


def archive_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / ARCHIVE_FILE


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        mode = _switch_to_wal(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ArchiveError(
            f"{path} is not a readable archive ({exc}): restore it from a backup or remove it"
        ) from exc
    if mode != "wal":
        conn.close()
        raise ArchiveError(f"{path} could not be switched to WAL mode (got {mode!r})")
    return conn


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """Switching a new file to WAL takes an exclusive lock; when a reader opens the file while
    its writer creates it, one of them gets SQLITE_BUSY at once (SQLite's deadlock avoidance
    skips the busy timeout), so the switch is retried for up to two seconds."""
    for attempt in range(200):
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 199:
                raise
            time.sleep(0.01)
    raise AssertionError("unreachable")


def _campaign_row(conn: sqlite3.Connection, path: Path) -> tuple:
    try:
        row = conn.execute(
            "SELECT name, task, config_json, seed, evaluator_version, created_at, updated_at "
            "FROM campaign WHERE id = 1"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"{path} is not a readable archive ({exc})") from exc
    if row is None:
        raise ArchiveError(
            f"{path} has no campaign record: it was never initialised; remove it and start the "
            "campaign again"
        )
    return row


def _open_existing(path: Path, hint: str) -> sqlite3.Connection:
    if not path.is_file():
        raise ArchiveError(f"no archive at {path}: {hint}")
    conn = _connect(path)
    try:
        migrate(conn)
        _campaign_row(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


class ArchiveReader:
    """Read-only queries over one campaign's archive. Safe to use while a writer is running."""

    def __init__(self, path: str | Path, *, _conn: sqlite3.Connection | None = None):
        self.path = Path(path)
        if _conn is None:
            _conn = _open_existing(self.path, "check the run name (`discover runs` lists them)")
            _conn.execute("PRAGMA query_only = ON")
        self._conn = _conn

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _programs(self, where: str, params: Sequence[Any] = (), tail: str = "") -> list[Program]:
        rows = self._conn.execute(
            f"SELECT {_PROGRAM_COLUMNS} FROM programs WHERE {where} {tail}", params
        ).fetchall()
        if not rows:
            return []
        links: dict[int, dict[str, list[int]]] = {r[0]: {"parent": [], "inspiration": []}
                                                  for r in rows}
        ids = list(links)
        for start in range(0, len(ids), 900):  # stay under SQLite's bound-variable limit
            part = ids[start:start + 900]
            for child, parent, role in self._conn.execute(
                "SELECT child_id, parent_id, role FROM links "
                f"WHERE child_id IN ({','.join('?' * len(part))}) "
                "ORDER BY child_id, role, position",
                part,
            ):
                links[child][role].append(parent)
        return [
            Program(
                id=r[0], code=r[1], code_hash=r[2], language=r[3],
                parents=tuple(links[r[0]]["parent"]),
                inspirations=tuple(links[r[0]]["inspiration"]),
                island=r[4], generation=r[5], model=r[6], prompt_template=r[7], edit_kind=r[8],
                edit_text=r[9], diff=r[10], created_at=r[11], status=r[12], score=r[13],
                evaluator_version=r[14], n_children=r[15], prompt_variant=r[16],
            )
            for r in rows
        ]

    # -- the campaign ---------------------------------------------------------------------

    def _version(self) -> str:
        """The campaign's current evaluator version (read each time: a writer may change it)."""
        return self._conn.execute("SELECT evaluator_version FROM campaign WHERE id = 1"
                                  ).fetchone()[0]

    def campaign(self) -> Campaign:
        name, task, config, seed, version, created, updated = _campaign_row(self._conn, self.path)
        return Campaign(name, task, json.loads(config), seed, version, created, updated)

    # -- programs -------------------------------------------------------------------------

    def program(self, program_id: int) -> Program:
        found = self._programs("id = ?", (program_id,))
        if not found:
            count, low, high = self._conn.execute(
                "SELECT count(*), min(id), max(id) FROM programs"
            ).fetchone()
            known = f"ids run from {low} to {high}" if count else "it holds no programs yet"
            raise ArchiveError(f"no program {program_id} in {self.path}: {known}")
        return found[0]

    def programs(self, ids: Sequence[int]) -> list[Program]:
        """The programs with these ids, in the order given (unknown ids are left out)."""
        found: dict[int, Program] = {}
        for start in range(0, len(ids), 900):
            part = list(ids[start:start + 900])
            found.update((p.id, p) for p in self._programs(
                f"id IN ({','.join('?' * len(part))})", part))
        return [found[i] for i in ids if i in found]

    def ancestry(self, program_id: int) -> list[int]:
        """Primary-parent chain from the seed down to the program, both ends included."""
        self.program(program_id)
        rows = self._conn.execute(
            "WITH RECURSIVE up(id, depth) AS (SELECT ?, 0 UNION ALL "
            "SELECT l.parent_id, up.depth + 1 FROM links l JOIN up ON l.child_id = up.id "
            "WHERE l.role = 'parent' AND l.position = 0) "
            "SELECT id FROM up ORDER BY depth DESC",
            (program_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        return self._conn.execute("SELECT count(*) FROM programs").fetchone()[0]

    def find_by_hash(self, code: str) -> list[int]:
        """Ids of archived programs with the same code (modulo trailing white space)."""
        return [r[0] for r in self._conn.execute(
            "SELECT id FROM programs WHERE code_hash = ? ORDER BY id", (code_hash(code),)
        )]

    def children(self, program_id: int) -> list[int]:
        return [r[0] for r in self._conn.execute(
            "SELECT child_id FROM links WHERE parent_id = ? AND role = 'parent' ORDER BY child_id",
            (program_id,),
        )]

    def child_failures(self, program_id: int, limit: int = 3) -> list[str]:
        """Reasons the newest failed children of a program failed, newest first."""
        return [r[0] for r in self._conn.execute(
            "SELECT coalesce(e.reason, p.status) FROM links l "
            "JOIN programs p ON p.id = l.child_id "
            "JOIN evaluations e ON e.program_id = p.id AND e.final = 1 "
            "WHERE l.parent_id = ? AND l.role = 'parent' AND p.status NOT IN ('ok', 'pending') "
            "ORDER BY p.id DESC LIMIT ?", (program_id, limit))]

    def pending(self) -> list[Program]:
        """Programs whose final evaluation never landed (in flight when a campaign stopped)."""
        return self._programs("status = 'pending'", tail="ORDER BY id")

    def evaluations(self, program_id: int) -> list[Evaluation]:
        rows = self._conn.execute(
            "SELECT id, stage, status, score, public_metrics, private_metrics, reason, "
            "error_tail, duration_s, resources, evaluator_version, final, created_at "
            "FROM evaluations WHERE program_id = ? ORDER BY id",
            (program_id,),
        ).fetchall()
        return [
            Evaluation(
                id=r[0], program_id=program_id, stage=r[1], status=r[2], score=r[3],
                public_metrics=json.loads(r[4]), private_metrics=json.loads(r[5]), reason=r[6],
                error_tail=r[7], duration_s=r[8], resources=json.loads(r[9]),
                evaluator_version=r[10], final=bool(r[11]), created_at=r[12],
            )
            for r in rows
        ]

    # -- ranking and parent sampling ------------------------------------------------------
    # Each query reads a bounded slice of a partial index on ok programs of the campaign's
    # current evaluator version: scores from an older evaluator are never ranked with new ones.

    def _ranking(self, island: int | None, limit: int, columns: str) -> list[tuple]:
        version = self._version()
        where = "status = 'ok' AND evaluator_version = ?"
        params: list[Any] = [version]
        if island is not None:
            where += " AND island = ?"
            params.append(island)
        return self._conn.execute(
            f"SELECT {columns} FROM programs WHERE {where} ORDER BY score DESC, id LIMIT ?",
            [*params, limit],
        ).fetchall()

    def best(self, island: int | None = None) -> Program | None:
        rows = self._ranking(island, 1, "id")
        return self.program(rows[0][0]) if rows else None

    def top_k(self, k: int, island: int | None = None) -> list[Program]:
        return self.programs([r[0] for r in self._ranking(island, k, "id")])

    def sample_parent(
        self, rng: random.Random, island: int | None = None, *, lam: float = 10.0,
        pool: int = 1000,
    ) -> Program | None:
        """One parent drawn by the weighted rule (see `archive.sampling`) from the island's
        `pool` best ok programs; None when the island has no ok program yet."""
        rows = self._ranking(island, pool, "id, score, n_children")
        if not rows:
            return None
        ids, scores, children = zip(*rows, strict=True)
        return self.program(weighted_choice(rng, ids, scores, children, lam))

    # -- reports --------------------------------------------------------------------------

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(PROGRAM_STATUSES, 0)
        counts.update(self._conn.execute("SELECT status, count(*) FROM programs GROUP BY status"))
        return counts

    def model_spending(self) -> list[tuple[float, int, float]]:
        """(created_at, tokens_in + tokens_out, cost) of every model call, oldest first."""
        return self._conn.execute(
            "SELECT created_at, coalesce(tokens_in, 0) + coalesce(tokens_out, 0), "
            "coalesce(cost, 0) FROM model_calls ORDER BY created_at, id").fetchall()

    def purpose_totals(self, *purposes: str) -> tuple[int, int, float]:
        """(calls, tokens in + out, cost) of the model calls made for these purposes (the agent
        model's campaign budget, its chat and embedding calls, carries on across a resume)."""
        marks = ", ".join("?" * len(purposes))
        calls, tokens, cost = self._conn.execute(
            "SELECT count(*), coalesce(sum(tokens_in), 0) + coalesce(sum(tokens_out), 0), "
            f"coalesce(sum(cost), 0) FROM model_calls WHERE purpose IN ({marks})",
            purposes).fetchone()
        return calls, tokens, cost

    def summary(self) -> Summary:
        tokens_in, tokens_out, cost = self._conn.execute(
            "SELECT coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0), "
            "coalesce(sum(cost), 0) FROM model_calls"
        ).fetchone()
        return Summary(self.campaign(), self.status_counts(), self.best(), tokens_in, tokens_out,
                       cost)

    def failures_by_reason(self, limit: int = 10, recent: int | None = None
                           ) -> list[tuple[str, str, int]]:
        """(status, reason, count) of failed programs (of the newest `recent` programs, if
        given: a bounded read), most frequent first. Reasons are grouped by
        `archive.reasons.reason_key` (their numbers as N: "two circles overlap (circles N and
        N, by N)"), which keeps what they say and drops what varies."""
        first = 0 if recent is None else self._conn.execute(
            "SELECT coalesce(max(id), 0) FROM programs").fetchone()[0] - recent
        return _grouped(self._conn.execute(
            "SELECT p.status, e.reason, count(*) FROM programs p "
            "JOIN evaluations e ON e.program_id = p.id AND e.final = 1 "
            "WHERE p.id > ? AND p.status NOT IN ('ok', 'pending') GROUP BY p.status, e.reason",
            (first,)), limit)

    def refusals_by_reason(self, limit: int = 10) -> list[tuple[str, str, int]]:
        """(operator, reason, count) of the iterations that made no program (a model's edit
        refused: "the python code block is never closed"; a failed model call; nothing to
        tune), most frequent first, grouped as `failures_by_reason` groups: the failures that
        left no program to count."""
        return _grouped(self._conn.execute(
            "SELECT coalesce(json_extract(data, '$.op'), '-'), json_extract(data, '$.reason'), "
            "count(*) FROM events WHERE kind = 'iteration' "
            "AND json_extract(data, '$.program') IS NULL GROUP BY 1, 2"), limit)

    def best_by_operator(self) -> list[tuple[str, float, int]]:
        """(edit kind, best score, ok programs) per operator that made ok programs of the
        current evaluator version, best first: how far model edits got past tuning, restarts
        and the seed."""
        return self._conn.execute(
            "SELECT coalesce(edit_kind, '-'), max(score), count(*) FROM programs "
            "WHERE status = 'ok' AND evaluator_version = ? GROUP BY edit_kind "
            "ORDER BY max(score) DESC", (self._version(),)).fetchall()

    def model_usage(self) -> list[ModelUsage]:
        """Per model; the calls candidate programs made (purpose `agent`) apart from the meta
        model's, as `<model> (agent)`, so what agents cost shows next to what proposing did."""
        rows = self._conn.execute(
            "SELECT model || CASE WHEN purpose = 'agent' THEN ' (agent)' ELSE '' END AS who, "
            "count(*), count(error), sum(tokens_in), sum(tokens_out), sum(cost), avg(latency_s) "
            "FROM model_calls GROUP BY who ORDER BY sum(cost) DESC, who"
        ).fetchall()
        return [ModelUsage(*r) for r in rows]

    def model_errors(self, limit: int = 3) -> list[tuple[float, str, str, str]]:
        """(created_at, model, purpose, error) of the newest failed model attempts, newest
        first: a count of errors does not say that a key was revoked."""
        return self._conn.execute(
            "SELECT created_at, model, purpose, error FROM model_calls WHERE error IS NOT NULL "
            "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()

    def scored(self) -> Iterator[tuple[int, int, float, int, dict[str, Any]]]:
        """(id, island, score, code length, final public metrics) of every ok program of the
        current evaluator version: one scan, for rebuilding in-memory indexes on resume."""
        for pid, island, score, length, metrics in self._conn.execute(
            "SELECT p.id, p.island, p.score, length(p.code), e.public_metrics FROM programs p "
            "JOIN evaluations e ON e.program_id = p.id AND e.final = 1 "
            "WHERE p.status = 'ok' AND p.evaluator_version = ? ORDER BY p.id",
            (self._version(),),
        ):
            yield pid, island, score, length, json.loads(metrics or "{}")

    def score_history(self) -> list[float]:
        """Best score so far after each ok program, in the order they were created."""
        version = self._version()
        return [r[0] for r in self._conn.execute(
            "SELECT max(score) OVER (ORDER BY id) FROM programs "
            "WHERE status = 'ok' AND evaluator_version = ? ORDER BY id",
            (version,),
        )]

    def lineage_rows(self) -> tuple[list[tuple], list[tuple[int, int, int]]]:
        """Everything the lineage graph needs, in two table scans: node rows
        (id, status, score, island, model, generation, edit_kind, created_at) and
        parent edges (parent, child, position)."""
        nodes = self._conn.execute(
            f"SELECT {_LINEAGE_COLUMNS} FROM programs ORDER BY id").fetchall()
        edges = self._conn.execute(
            "SELECT parent_id, child_id, position FROM links WHERE role = 'parent'"
        ).fetchall()
        return nodes, edges

    def lineage_rows_of(self, ids: Sequence[int]) -> tuple[list[tuple], list[tuple[int, int, int]]]:
        """`lineage_rows` for these programs only: their node rows, and the parent edges into
        them (a prompt's slice of the lineage, without a scan of the whole archive)."""
        nodes, edges = [], []
        for start in range(0, len(ids), 500):  # under SQLite's limit on bound parameters
            part = list(ids[start:start + 500])
            marks = ",".join("?" * len(part))
            nodes += self._conn.execute(f"SELECT {_LINEAGE_COLUMNS} FROM programs WHERE id IN "
                                        f"({marks}) ORDER BY id", part).fetchall()
            edges += self._conn.execute(
                "SELECT parent_id, child_id, position FROM links "
                f"WHERE role = 'parent' AND child_id IN ({marks})", part).fetchall()
        return nodes, edges

    def best_below(self, program_id: int) -> float | None:
        """The best score among the program's descendants (None if none has one), by one
        recursive query."""
        (best,) = self._conn.execute(
            "WITH RECURSIVE below(id) AS ("
            "  SELECT child_id FROM links WHERE parent_id = ? AND role = 'parent'"
            "  UNION SELECT l.child_id FROM links l JOIN below b ON l.parent_id = b.id"
            "  WHERE l.role = 'parent') "
            "SELECT max(p.score) FROM below JOIN programs p ON p.id = below.id",
            (program_id,)).fetchone()
        return best

    def events(self, kind: str | None = None, limit: int = 100) -> list[tuple[float, str, Any]]:
        """(created_at, kind, data) of the newest events, newest first."""
        where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
        return [(t, k, json.loads(d)) for t, k, d in self._conn.execute(
            f"SELECT created_at, kind, data FROM events {where} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )]


    # -- iterations, model calls, the held-out result -------------------------------------

    def iterations(self, first: int = 0, last: int | None = None, *,
                   no_program: bool = False, newest: int | None = None) -> list[Iteration]:
        """Iterations `first` to `last` (both included; default: to the newest), by number,
        each with its model calls counted: the committed ones (program or not) from their
        `iteration` events, and any whose calls were recorded but which never committed (a
        model or task problem stopped the campaign there). `no_program`: only those that made
        no program; `newest`: only the last so many of them (a bounded read)."""
        last = 2**62 if last is None else last
        only = " AND json_extract(data, '$.program') IS NULL" if no_program else ""
        committed = {n: (json.loads(data), created) for n, data, created in self._conn.execute(
            "SELECT json_extract(data, '$.n'), data, created_at FROM events WHERE kind = "
            f"'iteration' AND json_extract(data, '$.n') BETWEEN ? AND ?{only} "
            "ORDER BY json_extract(data, '$.n') DESC LIMIT ?",
            (first, last, -1 if newest is None else newest))}
        unfinished = [r[0] for r in self._conn.execute(
            "SELECT DISTINCT iteration FROM model_calls m WHERE iteration BETWEEN ? AND ? "
            "AND NOT EXISTS (SELECT 1 FROM events WHERE kind = 'iteration' "
            "AND json_extract(data, '$.n') = m.iteration)", (first, last))]
        numbers = sorted(committed.keys() | set(unfinished))[-(newest or 0):]
        spent = {} if not numbers else {
            n: (calls, tokens, cost) for n, calls, tokens, cost in self._conn.execute(
                "SELECT iteration, count(*), coalesce(sum(tokens_in), 0) + "
                "coalesce(sum(tokens_out), 0), coalesce(sum(cost), 0) FROM model_calls "
                "WHERE iteration BETWEEN ? AND ? GROUP BY iteration", (numbers[0], numbers[-1]))}
        found = []
        for n in numbers:
            d, created = committed.get(n, ({}, None))
            calls, tokens, cost = spent.get(n, (0, 0, 0.0))
            found.append(Iteration(
                n=n, op=d.get("op"), island=d.get("island"), model=d.get("model"),
                edit_format=d.get("edit_format"), parent_id=d.get("parent"),
                inspirations=tuple(d.get("inspirations") or ()), program_id=d.get("program"),
                status=d.get("status", "unfinished"), score=d.get("score"),
                reason=d.get("reason"), valid_edit=d.get("valid_edit"), turns=d.get("turns", 0),
                evaluations=d.get("evaluations", 0), calls=calls, tokens=tokens, cost=cost,
                created_at=created))
        return found

    def iteration_of(self, program_id: int) -> int | None:
        """The number of the iteration that made a program (None for an archive without
        iteration events, such as `discover demo`'s)."""
        row = self._conn.execute(
            "SELECT json_extract(data, '$.n') FROM events WHERE kind = 'iteration' "
            "AND program_id = ? ORDER BY id LIMIT 1", (program_id,)).fetchone()
        return None if row is None else row[0]

    def iteration(self, n: int) -> Iteration:
        """Iteration `n`, or an ArchiveError that says which iterations there are."""
        found = self.iterations(n, n)
        if found:
            return found[0]
        (high,) = self._conn.execute(
            "SELECT max(json_extract(data, '$.n')) FROM events WHERE kind = 'iteration'"
        ).fetchone()
        known = f"iterations run from 0 to {high}" if high is not None else \
            "it has recorded no iteration yet"
        raise ArchiveError(f"no iteration {n} in {self.path}: {known}")

    def model_calls(self, *, iteration: int | None = None, program: int | None = None
                    ) -> list[RecordedCall]:
        """The model calls of one iteration, or of one program (its proposal and repair turns,
        and the agent model's calls of its evaluations), oldest first: failed attempts
        included, each with the `call_id` of its exchange in the transcript where it has one."""
        if (iteration is None) == (program is None):
            raise ValueError("model_calls: give exactly one of iteration= and program=")
        column, value = ("iteration", iteration) if iteration is not None else \
            ("program_id", program)
        return [RecordedCall(id=r[0], model=r[1], purpose=r[2], tokens_in=r[3], tokens_out=r[4],
                             cost=r[5], latency_s=r[6], raw_response=r[7], error=r[8],
                             program_id=r[9], iteration=r[10], call_id=r[11], created_at=r[12])
                for r in self._conn.execute(
                    f"SELECT {_CALL_COLUMNS} FROM model_calls WHERE {column} = ? ORDER BY id",
                    (value,))]

    # -- the prompt archive (prompt co-evolution) ------------------------------------------

    def prompt_variants(self, kind: str | None = None) -> list[PromptVariant]:
        """The prompt archive's variants (of one kind of answer, or all), oldest first."""
        where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        return [PromptVariant(*row) for row in self._conn.execute(
            "SELECT id, kind, parent_id, system, instruction, name, iteration, model, "
            f"created_at FROM prompt_variants {where} ORDER BY id", params)]

    def prompt_uses(self) -> list[PromptUse]:
        """Every iteration asked with a variant, by number, with its outcome once committed:
        its status and score (its `iteration` event) and its parent's current score."""
        return [PromptUse(*row) for row in self._conn.execute(
            "SELECT u.iteration, u.variant_id, json_extract(e.data, '$.status'), "
            "json_extract(e.data, '$.score'), p.score FROM prompt_uses u "
            "LEFT JOIN events e ON e.kind = 'iteration' "
            "AND json_extract(e.data, '$.n') = u.iteration "
            "LEFT JOIN programs p ON p.id = json_extract(e.data, '$.parent') "
            "ORDER BY u.iteration")]

    def prompt_use(self, iteration: int) -> int | None:
        """The variant iteration `iteration` was asked with, once chosen (None before)."""
        row = self._conn.execute("SELECT variant_id FROM prompt_uses WHERE iteration = ?",
                                 (iteration,)).fetchone()
        return None if row is None else row[0]

    def score_range(self) -> tuple[float, float] | None:
        """The lowest and highest score of the programs that evaluated ok (current evaluator
        version), or None before the first: what prompt improvements are normalised by."""
        row = self._conn.execute(
            "SELECT min(score), max(score) FROM programs WHERE status = 'ok' "
            "AND evaluator_version = ?", (self._version(),)).fetchone()
        return None if row[0] is None else (row[0], row[1])

    def held_out(self) -> HeldOut | None:
        """The newest held-out result: the best program scored on the task's held-out stage
        when the campaign last stopped with one measured. None when none was (a task without a
        held-out stage, a run that never stopped, or stopped by Ctrl-C or a broken model or
        task). Its program may no longer be the best, if the campaign went on after it."""
        row = self._conn.execute(
            "SELECT program_id, data, created_at FROM events WHERE kind = 'campaign_stopped' "
            "AND json_extract(data, '$.held_out') IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        data = json.loads(row[1])
        program_id = row[0] if row[0] is not None else data.get("program")
        search = self._conn.execute("SELECT score FROM programs WHERE id = ?",
                                    (program_id,)).fetchone()
        return HeldOut.from_metrics(program_id, search[0] if search else None, data["held_out"],
                                    row[2])


class ArchiveWriter(ArchiveReader):
    """The campaign loop's handle: every write commits before it returns (or at the end of a
    `batch()`), so nothing a later step depends on can be lost to a crash."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time,
                 _conn: sqlite3.Connection | None = None):
        if _conn is None:
            _conn = _open_existing(Path(path), "create one with ArchiveWriter.create()")
        super().__init__(path, _conn=_conn)
        self._clock = clock
        self._depth = 0
        self._cached_version = super()._version()

    def _version(self) -> str:
        return self._cached_version  # only this writer changes it: see set_evaluator_version

    @classmethod
    def create(
        cls, path: str | Path, *, name: str, task: str, config: dict[str, Any], seed: int,
        evaluator_version: str, clock: Callable[[], float] = time.time,
    ) -> "ArchiveWriter":
        path = Path(path)
        if path.exists():
            raise ArchiveError(
                f"an archive already exists at {path}: resume it, or choose another run name"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path)
        try:
            migrate(conn)
            now = clock()
            conn.execute(
                "INSERT INTO campaign VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                (name, task, json.dumps(config, sort_keys=True), seed, evaluator_version, now, now),
            )
        except BaseException:
            conn.close()
            path.unlink(missing_ok=True)
            raise
        return cls(path, clock=clock, _conn=conn)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes into one transaction: all of them land, or none do."""
        if self._depth == 0:
            self._conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
            if self._depth == 1:
                self._conn.execute(
                    "UPDATE campaign SET updated_at = ? WHERE id = 1", (self._clock(),)
                )
                self._conn.execute("COMMIT")
        except BaseException:
            # After some errors (a full disk) SQLite has rolled the transaction back itself.
            if self._depth == 1 and self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._depth -= 1

    def set_evaluator_version(self, version: str) -> None:
        """Record that scores from now on come from another evaluator; rankings switch to it."""
        with self.batch():
            old = self.campaign().evaluator_version
            if old != version:
                self._conn.execute(
                    "UPDATE campaign SET evaluator_version = ? WHERE id = 1", (version,)
                )
                self._event("evaluator_changed", {"from": old, "to": version}, None)
        self._cached_version = version

    def add_program(self, new: NewProgram) -> int:
        with self.batch():
            parents = [self.program(p) for p in new.parents]
            generation = new.generation
            if generation is None:
                generation = 1 + max((p.generation for p in parents), default=-1)
            diff = None
            if parents:
                diff = "".join(difflib.unified_diff(
                    parents[0].code.splitlines(keepends=True), new.code.splitlines(keepends=True),
                    f"program {parents[0].id}", "this program",
                ))
            program_id = self._conn.execute(
                "INSERT INTO programs (code, code_hash, language, island, generation, model, "
                "prompt_template, edit_kind, edit_text, diff, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (new.code, code_hash(new.code), new.language, new.island, generation, new.model,
                 new.prompt_template, new.edit_kind, new.edit_text, diff, self._clock()),
            ).lastrowid
            with _unknown_program(self.path, new.inspirations):
                self._conn.executemany(
                    "INSERT INTO links VALUES (?, ?, ?, ?)",
                    [(program_id, p, "parent", i) for i, p in enumerate(new.parents)]
                    + [(program_id, p, "inspiration", i) for i, p in enumerate(new.inspirations)],
                )
        return program_id

    def record_evaluation(self, program_id: int, result: EvaluationResult, *,
                          final: bool = True) -> int:
        """Store one stage's result. The program takes its status and score from the final
        stage, or from any stage that did not pass (a failed stage ends the evaluation)."""
        if result.status not in STATUSES:
            raise ArchiveError(
                f"unknown evaluation status {result.status!r}: use one of {', '.join(STATUSES)}"
            )
        if result.status == "ok" and final and (result.score is None
                                                or not math.isfinite(result.score)):
            raise ArchiveError(
                f"program {program_id}: an ok final evaluation needs a finite score, got "
                f"{result.score!r}; report it as invalid with a reason instead"
            )
        with self.batch():
            version = self._version()
            with _unknown_program(self.path, (program_id,)):
                eval_id = self._conn.execute(
                "INSERT INTO evaluations (program_id, stage, status, score, public_metrics, "
                "private_metrics, reason, error_tail, duration_s, resources, evaluator_version, "
                    "final, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (program_id, result.stage, result.status, _finite_or_none(result.score),
                     _json(result.public_metrics), _json(result.private_metrics), result.reason,
                     result.error_tail, result.duration_s, _json(result.resources), version,
                     int(final), self._clock()),
                ).lastrowid
            if final or result.status != "ok":
                self._conn.execute(
                    "UPDATE programs SET status = ?, score = ?, evaluator_version = ? "
                    "WHERE id = ?",
                    (result.status, _finite_or_none(result.score), version, program_id),
                )
        return eval_id

    def record_model_call(self, call: ModelCall) -> int:
        with self.batch(), _unknown_program(self.path, [call.program_id or 0]):
            return self._conn.execute(
                "INSERT INTO model_calls (program_id, model, purpose, tokens_in, tokens_out, cost, "
                "latency_s, raw_response, error, iteration, call_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (call.program_id, call.model, call.purpose, call.tokens_in, call.tokens_out,
                 call.cost, call.latency_s, call.raw_response, call.error, call.iteration,
                 call.call_id, self._clock()),
            ).lastrowid

    def add_prompt_variant(self, kind: str, system: str, instruction: str = "", *,
                           parent_id: int | None = None, name: str = "",
                           iteration: int | None = None, model: str | None = None) -> int:
        with self.batch():
            return self._conn.execute(
                "INSERT INTO prompt_variants (kind, parent_id, system, instruction, name, "
                "iteration, model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, parent_id, system, instruction, name, iteration, model, self._clock()),
            ).lastrowid

    def record_prompt_use(self, iteration: int, variant_id: int) -> None:
        """Iteration `iteration` is asked with this variant; its program (when it commits) is
        stamped with it by the schema's trigger."""
        with self.batch():
            self._conn.execute("INSERT INTO prompt_uses VALUES (?, ?, ?)",
                               (iteration, variant_id, self._clock()))

    def log_event(self, kind: str, data: dict[str, Any] | None = None,
                  program_id: int | None = None) -> int:
        with self.batch():
            return self._event(kind, data or {}, program_id)

    def _event(self, kind: str, data: dict[str, Any], program_id: int | None) -> int:
        return self._conn.execute(
            "INSERT INTO events (kind, program_id, data, created_at) VALUES (?, ?, ?, ?)",
            (kind, program_id, _json(data), self._clock()),
        ).lastrowid


@contextlib.contextmanager
def _unknown_program(path: Path, ids: Sequence[int]) -> Iterator[None]:
    """Turn a foreign-key failure into an error that names the ids the write referred to."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if "FOREIGN KEY" not in str(exc):
            raise
        raise ArchiveError(
            f"unknown program id among {sorted(set(ids))} in {path}: refer only to archived ids"
        ) from exc


def _grouped(rows: Iterable[tuple[str, str | None, int]], limit: int
             ) -> list[tuple[str, str, int]]:
    """(kind, reason, count) rows merged by `reason_key`, most frequent first."""
    counts: dict[tuple[str, str], int] = {}
    for kind, reason, n in rows:
        key = (kind, reason_key(reason))
        counts[key] = counts.get(key, 0) + n
    return sorted(((kind, reason, n) for (kind, reason), n in counts.items()),
                  key=lambda row: (-row[2], row[0], row[1]))[:limit]


def _finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _json(value: dict[str, Any]) -> str:
    """Metrics as strict JSON: NaN and infinities become null rather than invalid JSON."""
    return json.dumps(_strict(value), sort_keys=True)


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value
