"""The library's schema, as an ordered list of migrations.

The schema version lives in SQLite's `PRAGMA user_version` and the file is marked as ours with
`PRAGMA application_id`. To change the schema, append a `Migration(version=N+1, ...)` to
MIGRATIONS: it runs once, inside the same transaction that bumps user_version, so a killed
migration leaves the previous version intact. Before migrating a library that already holds
data, `TagLibrary.open` copies it to `library.sqlite3.v{old}.bak`.

Example for the watcher's queue (the `queued` count in `TagLibrary.stats()` reads this table
when it exists):

    Migration(2, "watch queue", (
        "CREATE TABLE watch_queue(path TEXT PRIMARY KEY, mtime REAL, queued_at REAL) WITHOUT ROWID",
    ))
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

APPLICATION_ID = 0x48534C4E  # "HSLN"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...] = ()
    apply: Callable[[sqlite3.Connection], None] | None = None  # for data migrations


_V1 = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # One row per distinct photo content; `path` is where it was last seen.
    """CREATE TABLE photos(
        id INTEGER PRIMARY KEY,
        content_hash TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL DEFAULT '',
        file_size INTEGER,
        mtime REAL,
        width INTEGER,
        height INTEGER,
        embedding BLOB,            -- pooled encoder features, little-endian float16/float32
        emb_dtype TEXT,            -- 'f2' or 'f4'
        emb_dim INTEGER,
        emb_proj BLOB,             -- normalised random projection, float16 (neighbours.py)
        emb_model TEXT,            -- model version that computed the embedding
        decided_seq INTEGER,       -- set when the photo (re)enters the neighbour index
        added_at REAL NOT NULL,
        updated_at REAL NOT NULL)""",
    "CREATE INDEX photos_path ON photos(path)",
    "CREATE INDEX photos_decided ON photos(decided_seq) WHERE decided_seq IS NOT NULL",
    # Every path a photo has been seen at (moves and renames).
    """CREATE TABLE photo_paths(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        PRIMARY KEY(photo_id, path)) WITHOUT ROWID""",
    """CREATE TABLE captions(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model_version TEXT NOT NULL,
        caption TEXT NOT NULL,
        tokens TEXT,               -- JSON list
        log_prob REAL,
        created_at REAL NOT NULL,
        PRIMARY KEY(photo_id, model_version)) WITHOUT ROWID""",
    # The model's (unpersonalised) suggestions, latest run per model version.
    """CREATE TABLE suggestions(
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model_version TEXT NOT NULL,
        tag TEXT NOT NULL,
        score REAL NOT NULL,
        source TEXT NOT NULL,
        position INTEGER NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY(photo_id, model_version, tag)) WITHOUT ROWID""",
    "CREATE INDEX suggestions_tag ON suggestions(tag)",
    # The append-only log: every decision ever made, never updated or deleted.
    """CREATE TABLE decisions(
        id INTEGER PRIMARY KEY,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        state TEXT NOT NULL CHECK(state IN ('approved', 'rejected', 'added', 'removed')),
        at REAL NOT NULL)""",
    "CREATE UNIQUE INDEX decisions_unique ON decisions(photo_id, tag, state, at)",
    # Derived from `decisions` (rebuildable): the latest state of each (photo, tag) ...
    """CREATE TABLE photo_tags(
        photo_id INTEGER NOT NULL,
        tag TEXT NOT NULL,
        state TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY(photo_id, tag)) WITHOUT ROWID""",
    # ... per-tag counts of those states and recency-decayed sums as of ref_at ...
    """CREATE TABLE tag_stats(
        tag TEXT PRIMARY KEY,
        pos_w REAL NOT NULL DEFAULT 0,
        neg_w REAL NOT NULL DEFAULT 0,
        ref_at REAL NOT NULL DEFAULT 0,
        approved INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        added INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        last_at REAL NOT NULL DEFAULT 0) WITHOUT ROWID""",
    # ... and how many photos kept both a and b (both directions stored).
    """CREATE TABLE tag_pairs(
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY(a, b)) WITHOUT ROWID""",
    "CREATE INDEX tag_pairs_top ON tag_pairs(a, n)",
    # ... and, over reviewed photos, how often the model suggested s (suggest_seen) and how
    # often the user then kept t (suggest_pairs): "adds #naturelovers when #water is suggested".
    """CREATE TABLE suggest_seen(
        s TEXT PRIMARY KEY,
        n INTEGER NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE suggest_pairs(
        s TEXT NOT NULL,
        t TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY(s, t)) WITHOUT ROWID""",
    "CREATE INDEX suggest_pairs_top ON suggest_pairs(s, n)",
    # Vocabulary rules: block (tag never shown), synonym (tag -> target), always (tag added).
    """CREATE TABLE rules(
        kind TEXT NOT NULL CHECK(kind IN ('block', 'synonym', 'always')),
        tag TEXT NOT NULL,
        target TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY(kind, tag)) WITHOUT ROWID""",
)

# The folder watcher's persistent queue (desktop_app/watch/queue.py). `watch_queue` holds only
# photos still to tag (so `stats()["queued"]` counts them); files that failed for good move to
# `watch_failed` and are not retried until their size or mtime changes.
_V2 = (
    """CREATE TABLE watch_queue(
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        queued_at REAL NOT NULL,
        not_before REAL NOT NULL DEFAULT 0,  -- retry after this time (wall clock)
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT) WITHOUT ROWID""",
    "CREATE INDEX watch_queue_due ON watch_queue(not_before, queued_at)",
    """CREATE TABLE watch_failed(
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        attempts INTEGER NOT NULL,
        error TEXT NOT NULL,
        failed_at REAL NOT NULL) WITHOUT ROWID""",
)

# Habit models (habits.py): G, the sum of phi phi^T over reviewed photos, for the features of
# `key` (one row; another key means it was built with another tag detector and is rebuilt), and
# b_t, the sum of phi over reviewed photos that kept t. Both derived, rebuildable from the log.
_V3 = (
    """CREATE TABLE habit_gram(
        key TEXT PRIMARY KEY,
        n INTEGER NOT NULL,        -- reviewed photos in the sum
        gram BLOB NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE habit_sums(
        tag TEXT PRIMARY KEY,
        n INTEGER NOT NULL,        -- reviewed photos that kept the tag
        vec BLOB NOT NULL) WITHOUT ROWID""",
    "CREATE INDEX habit_sums_top ON habit_sums(n)",
)

# Rejections read in context (ranking.rightness): each decision's rightness on its photo, and
# per tag the rejections weighed by it. Derived, rebuildable (decisions.rebuild_stats).
_V4 = (
    "ALTER TABLE photo_tags ADD COLUMN sure REAL",
    "ALTER TABLE tag_stats ADD COLUMN neg_sure REAL NOT NULL DEFAULT 0",
)


def _weigh_rejections(conn: sqlite3.Connection) -> None:
    import time

    from .decisions import rebuild_stats
    from .ranking import RankingConfig

    rebuild_stats(conn, time.time(), RankingConfig())


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _V1),
    Migration(2, "watch queue", _V2),
    Migration(3, "habit models", _V3),
    Migration(4, "rejections read in context", _V4, _weigh_rejections),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def application_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA application_id").fetchone()[0])


def pending(current: int) -> list[Migration]:
    return [m for m in MIGRATIONS if m.version > current]


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply the pending migrations, each in its own IMMEDIATE transaction; returns versions.

    The caller has checked that the file is ours and not newer than SCHEMA_VERSION. The
    connection must be in autocommit mode (isolation_level=None).
    """
    done: list[int] = []
    for m in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if schema_version(conn) >= m.version:
                conn.execute("ROLLBACK")
                continue
            for sql in m.statements:
                conn.execute(sql)
            if m.apply is not None:
                m.apply(conn)
            if m.version == 1:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {int(m.version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        done.append(m.version)
    return done
