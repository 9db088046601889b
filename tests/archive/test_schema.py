import sqlite3

import pytest
from helpers import add_scored

from archive import SCHEMA_VERSION, ArchiveError, ArchiveReader
from archive.schema import MIGRATIONS, migrate, schema_version


def test_new_archive_is_at_latest_version(writer):
    assert schema_version(writer._conn) == SCHEMA_VERSION


def test_newer_schema_is_refused_without_touching_the_file(writer):
    writer._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    writer.close()
    before = writer.path.read_bytes()
    with pytest.raises(ArchiveError, match=r"newer than this discovery supports.*upgrade"):
        ArchiveReader(writer.path)
    assert writer.path.read_bytes() == before


def test_migrations_apply_in_order_and_keep_data(writer):
    pid = add_scored(writer, 1.0, 0.5)
    v2 = "ALTER TABLE programs ADD COLUMN note TEXT; UPDATE programs SET note = 'migrated';"
    found = migrate(writer._conn, (*MIGRATIONS, v2))
    assert found == SCHEMA_VERSION
    assert schema_version(writer._conn) == SCHEMA_VERSION + 1
    assert writer._conn.execute("SELECT note FROM programs WHERE id = ?", (pid,)).fetchone() == (
        "migrated",)


def test_failed_migration_leaves_file_at_its_version(writer):
    pid = add_scored(writer, 1.0, 0.5)
    broken = "UPDATE programs SET score = 0; SELECT * FROM no_such_table;"
    with pytest.raises(sqlite3.OperationalError):
        migrate(writer._conn, (*MIGRATIONS, broken))
    assert schema_version(writer._conn) == SCHEMA_VERSION
    assert writer.program(pid).score == 0.5


def test_missing_file(tmp_path):
    with pytest.raises(ArchiveError, match="no archive at"):
        ArchiveReader(tmp_path / "nope.sqlite")
    assert not (tmp_path / "nope.sqlite").exists()


def test_garbage_file(tmp_path):
    path = tmp_path / "archive.sqlite"
    path.write_bytes(b"this is not sqlite at all, just text" * 100)
    with pytest.raises(ArchiveError, match="not a readable archive"):
        ArchiveReader(path)


def test_foreign_sqlite_file_is_not_adopted(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(ArchiveError, match="not a discovery archive"):
        ArchiveReader(path)
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["users"]
