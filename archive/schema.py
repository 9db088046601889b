"""The archive's SQL schema and its migrations.

The schema version lives in SQLite's own `PRAGMA user_version`, so it is read from the file
header without touching any table. Migration N turns a version N-1 file into version N; each one
runs in a single transaction, so a failure leaves the file at the version it had.
"""

import sqlite3
from collections.abc import Sequence

from archive.errors import ArchiveError

STATUSES = ("ok", "invalid", "timeout", "crashed", "rejected")
"""Outcomes of an evaluation. A program is `pending` until its final evaluation is recorded."""

_STATUS_CHECK = ", ".join(f"'{s}'" for s in STATUSES)

_V1 = f"""
CREATE TABLE campaign (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    task TEXT NOT NULL,
    config_json TEXT NOT NULL,
    seed INTEGER NOT NULL,
    evaluator_version TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE programs (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT 'python',
    island INTEGER NOT NULL DEFAULT 0,
    generation INTEGER NOT NULL DEFAULT 0,
    model TEXT,
    prompt_template TEXT,
    edit_kind TEXT,
    edit_text TEXT,
    diff TEXT,
    created_at REAL NOT NULL,
    -- Denormalised from the final evaluation and the lineage table, so that parent sampling
    -- is an index range scan instead of a join over every evaluation.
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', {_STATUS_CHECK})),
    score REAL,
    evaluator_version TEXT,
    n_children INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX programs_ranking ON programs (evaluator_version, island, score DESC)
    WHERE status = 'ok';
CREATE INDEX programs_ranking_all ON programs (evaluator_version, score DESC)
    WHERE status = 'ok';
CREATE INDEX programs_status ON programs (status);
CREATE INDEX programs_code_hash ON programs (code_hash);

-- Every parent of a program (position 0 is the primary parent, more for crossover) and every
-- inspiration shown in its prompt.
CREATE TABLE links (
    child_id INTEGER NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    parent_id INTEGER NOT NULL REFERENCES programs (id),
    role TEXT NOT NULL CHECK (role IN ('parent', 'inspiration')),
    position INTEGER NOT NULL,
    PRIMARY KEY (child_id, role, position)
) WITHOUT ROWID;
CREATE INDEX links_parent ON links (parent_id, role);

CREATE TRIGGER links_count_children AFTER INSERT ON links WHEN NEW.role = 'parent'
BEGIN
    UPDATE programs SET n_children = n_children + 1 WHERE id = NEW.parent_id;
END;

CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    program_id INTEGER NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_STATUS_CHECK})),
    score REAL,
    public_metrics TEXT NOT NULL DEFAULT '{{}}',
    private_metrics TEXT NOT NULL DEFAULT '{{}}',
    reason TEXT,
    error_tail TEXT,
    duration_s REAL,
    resources TEXT NOT NULL DEFAULT '{{}}',
    evaluator_version TEXT NOT NULL,
    final INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX evaluations_program ON evaluations (program_id);

CREATE TABLE model_calls (
    id INTEGER PRIMARY KEY,
    program_id INTEGER REFERENCES programs (id) ON DELETE SET NULL,
    model TEXT NOT NULL,
    purpose TEXT NOT NULL,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    latency_s REAL,
    raw_response TEXT,
    error TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX model_calls_program ON model_calls (program_id);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    program_id INTEGER REFERENCES programs (id) ON DELETE SET NULL,
    data TEXT NOT NULL DEFAULT '{{}}',
    created_at REAL NOT NULL
);
"""

_V2 = """
ALTER TABLE model_calls ADD COLUMN iteration INTEGER;
ALTER TABLE model_calls ADD COLUMN call_id TEXT;
CREATE INDEX model_calls_iteration ON model_calls (iteration);
CREATE INDEX events_iteration ON events (json_extract(data, '$.n')) WHERE kind = 'iteration';
CREATE INDEX events_program ON events (program_id);
UPDATE model_calls SET iteration = (
    SELECT json_extract(e.data, '$.n') FROM events e
    WHERE e.kind = 'iteration' AND e.program_id = model_calls.program_id
      AND e.created_at >= model_calls.created_at
    ORDER BY e.id LIMIT 1)
WHERE program_id IS NOT NULL;
"""
"""Model calls name their iteration (a refused edit's calls belong to no program, yet are
reachable by the iteration that made them) and their exchange in the run's transcript (its call
id), so a prompt is found by that id, never by matching answer text. Calls of older archives
that belong to a program take the iteration that committed it (its event is written after its
calls, in the same transaction); the others (refused edits, the scratchpad, a held-out run at a
stop) keep none."""

_V3 = """
CREATE TABLE prompt_variants (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    parent_id INTEGER REFERENCES prompt_variants (id),
    system TEXT NOT NULL,
    instruction TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    iteration INTEGER,
    model TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX prompt_variants_kind ON prompt_variants (kind);

CREATE TABLE prompt_uses (
    iteration INTEGER PRIMARY KEY,
    variant_id INTEGER NOT NULL REFERENCES prompt_variants (id),
    created_at REAL NOT NULL
);
CREATE INDEX prompt_uses_variant ON prompt_uses (variant_id);

ALTER TABLE programs ADD COLUMN prompt_variant INTEGER REFERENCES prompt_variants (id);

CREATE TRIGGER programs_prompt_variant AFTER INSERT ON events
WHEN NEW.kind = 'iteration' AND NEW.program_id IS NOT NULL
BEGIN
    UPDATE programs SET prompt_variant = (
        SELECT variant_id FROM prompt_uses WHERE iteration = json_extract(NEW.data, '$.n'))
    WHERE id = NEW.program_id;
END;
"""
"""Prompt co-evolution (`[prompt_evolution]`): the system prompts and edit instructions of the
builtin proposer as an archive of their own. A variant's `iteration` is the one whose mutation
made it (NULL: a shipped prompt, a root); `prompt_uses` says which variant each iteration's
proposal was asked with, written when it is chosen, so a resumed or replayed iteration is asked
with the same one. The trigger stamps the variant on the program when its iteration commits (the
`iteration` event, written in the same transaction as the program), so the loop needs to know
nothing of it. Archives of version 2 hold no variants: their programs keep NULL."""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
"""MIGRATIONS[i] upgrades a file from version i to version i + 1; append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Bring the file up to the newest version this code knows; returns the version it had.

    Refuses a file written by a newer release rather than reading columns it may misread, and
    a SQLite file that is not an archive. Every decision is taken again under the write lock:
    another process (a reader opening the file a writer is creating) may migrate meanwhile.
    """
    found = schema_version(conn)
    latest = len(migrations)
    if found == latest:
        return found  # the common case: no lock taken
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            if version > latest:
                raise ArchiveError(
                    f"archive schema version {version} is newer than this discovery supports "
                    f"({latest}): upgrade discovery to read it"
                )
            if version == latest:
                conn.execute("COMMIT")
                return found
            if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise ArchiveError(
                    "this SQLite file holds tables but no archive schema version: it is not a "
                    "discovery archive; point at a run directory's archive.sqlite"
                )
            for statement in _statements(migrations[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a script into statements (trigger bodies included) to run inside one transaction;
    `executescript` would commit on its own."""
    statements, buffer = [], ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer)
            buffer = ""
    buffer = buffer.removesuffix(";")
    if buffer.strip():
        statements.append(buffer)
    return statements
