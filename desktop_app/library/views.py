"""Read-only views of the library for people: how the user treats each tag, tag completion,
the counts of `hashlens library stats`."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from . import migrations, ranking
from .habit_sums import HabitSums
from .import_check import is_valid_tag
from .ranking import RankingConfig
from .rules import load_rules


@dataclass(frozen=True)
class TagPreference:
    """How the user treats one tag (the GUI's library view)."""

    tag: str
    approvals: int  # photos where it is approved now
    rejections: int
    adds: int  # added by hand
    removals: int  # approved or added, then removed
    score: float  # Beta-smoothed, recency-decayed approval rate, 0..1 (0.5: no evidence)
    last_at: float  # time of the latest decision
    when: tuple[str, ...] = ()  # what in a photo makes the user keep it (its habit model)


def tag_preferences(conn: sqlite3.Connection, cfg: RankingConfig, habit_sums: HabitSums,
                    now: float, limit: int | None = None) -> list[TagPreference]:
    """Every tag the user decided on, most kept first."""
    sql = (
        "SELECT tag, pos_w, neg_w, ref_at, approved, rejected, added, removed, last_at "
        "FROM tag_stats WHERE approved + rejected + added + removed > 0 "
        "ORDER BY approved + added DESC, rejected + removed, tag"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    feats = habit_sums.features()
    rows = conn.execute(sql).fetchall()
    rules = load_rules(conn)
    models = habit_sums.models(conn, rules)
    when = models.triggers(feats.names) if models is not None and feats is not None else {}
    out = []
    for tag, pos_w, neg_w, ref_at, approved, rejected, added, removed, last_at in rows:
        if not is_valid_tag(tag):
            continue  # an odd tag (imported by an older hashlens): never shown
        pos = ranking.decayed_value(pos_w, ref_at, now, cfg.half_life_days)
        neg = ranking.decayed_value(neg_w, ref_at, now, cfg.half_life_days)
        score = ranking.beta_preference(pos, neg, cfg.prior_approve, cfg.prior_reject)
        out.append(TagPreference(tag, approved, rejected, added, removed, score, last_at,
                                 when.get(rules.canon(tag), ())))
    return out


def known_tags(conn: sqlite3.Connection, prefix: str, limit: int = 20) -> list[str]:
    """Tags starting with `prefix` (with or without '#'), the user's most used first."""
    p = prefix.strip().lower()
    p = p if p.startswith("#") else "#" + p
    hi = p + "\U0010ffff"
    out: list[str] = []
    queries = (
        "SELECT tag FROM tag_stats WHERE tag >= ? AND tag < ? "
        "ORDER BY approved + added DESC, rejected, tag LIMIT ?",
        "SELECT tag FROM rules WHERE tag >= ? AND tag < ? ORDER BY tag LIMIT ?",
        "SELECT DISTINCT tag FROM suggestions WHERE tag >= ? AND tag < ? ORDER BY tag LIMIT ?",
    )
    for sql in queries:
        for (tag,) in conn.execute(sql, (p, hi, limit)):
            if tag not in out and is_valid_tag(tag):
                out.append(tag)
        if len(out) >= limit:
            break
    return out[:limit]


def stats(conn: sqlite3.Connection, path: Path, cfg: RankingConfig) -> dict:
    """Counts for `hashlens library stats` (and the GUI)."""
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    sums = conn.execute(
        "SELECT count(*), coalesce(sum(approved), 0), coalesce(sum(rejected), 0), "
        "coalesce(sum(added), 0), coalesce(sum(removed), 0) FROM tag_stats "
        "WHERE approved + rejected + added + removed > 0"
    ).fetchone()
    rules = dict(conn.execute("SELECT kind, count(*) FROM rules GROUP BY kind").fetchall())
    out = {
        "photos": one("SELECT count(*) FROM photos"),
        "photos_reviewed": one("SELECT count(DISTINCT photo_id) FROM photo_tags"),
        # the log is append-only (never deleted), so its last rowid is its size: O(1)
        "decisions": one("SELECT coalesce(max(id), 0) FROM decisions"),
        "tags": sums[0],
        "approved": sums[1],
        "rejected": sums[2],
        "added": sums[3],
        "removed": sums[4],
        "blocked": rules.get("block", 0),
        "synonyms": rules.get("synonym", 0),
        "always": rules.get("always", 0),
        # tags kept on at least habit_min_kept photos: the ones that get a habit model
        "habit_tags": conn.execute(
            "SELECT count(*) FROM habit_sums WHERE n >= ?", (cfg.habit_min_kept,)
        ).fetchone()[0],
        "queued": one("SELECT count(*) FROM watch_queue"),  # open() migrated to schema 3
        "failed": one("SELECT count(*) FROM watch_failed"),
        "schema_version": migrations.schema_version(conn),
        "path": str(path),
    }
    try:
        out["size_bytes"] = path.stat().st_size
    except OSError:
        out["size_bytes"] = 0
    return out
