"""The user's decisions: an append-only log (`decisions`) and the counts derived from it in the
same transaction, which ranking reads instead of the log:

- photo_tags: each photo's latest state per tag;
- tag_stats: per tag, how many photos keep or reject it now, and the recency-decayed sums
  (neg_sure: the rejections weighed by how sure the model was of the tag there, see
  ranking.rightness; photo_tags.sure keeps each decision's rightness, so that a changed
  decision, or a photo tagged again, takes out exactly what it put in);
- tag_pairs: photos where two tags were kept together;
- suggest_seen / suggest_pairs: reviewed photos where the model suggested s (and the user kept
  t), for "adds #naturelovers whenever #water is suggested".

`rebuild_counts` recomputes them all from the log and the stored suggestions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from . import photos, ranking
from .db import bump, chunks, marks
from .ranking import POSITIVE_STATES, RankingConfig

ACTIONS = (("approve", "approved"), ("reject", "rejected"), ("add", "added"),
           ("remove", "removed"))
_STATS_COLUMNS = "tag, pos_w, neg_w, ref_at, approved, rejected, added, removed, last_at, neg_sure"
_STATS_MARKS = ", ".join("?" * 10)


@dataclass
class TagStats:
    """One tag_stats row, mutable while a transaction updates it."""

    tag: str
    pos_w: float = 0.0
    neg_w: float = 0.0
    ref_at: float = 0.0
    approved: int = 0
    rejected: int = 0
    added: int = 0
    removed: int = 0
    last_at: float = 0.0
    neg_sure: float = 0.0

    def count(self, state: str, delta: int) -> None:
        setattr(self, state, max(0, getattr(self, state) + delta))

    def weigh(self, positive: bool, weight: float, at: float, half_life: float,
              sure: float = 0.0) -> None:
        """Add a decision made `at` (weight -1 takes one out); a negative one adds `sure` (its
        rejection_weight, times the sign of `weight`) to neg_sure too."""
        new_ref = max(self.ref_at, at)
        shift = ranking.decay_factor(new_ref - self.ref_at, half_life)
        self.pos_w *= shift
        self.neg_w *= shift
        self.neg_sure *= shift
        self.ref_at = new_ref
        decay = ranking.decay_factor(new_ref - at, half_life)
        if positive:
            self.pos_w = max(0.0, self.pos_w + weight * decay)
        else:
            self.neg_w = max(0.0, self.neg_w + weight * decay)
            self.neg_sure = max(0.0, self.neg_sure + (1 if weight >= 0 else -1) * sure * decay)

    def merge(self, other: TagStats, half_life: float) -> None:
        """Add another tag's counts (a synonym's) into these."""
        ref = max(self.ref_at, other.ref_at)
        for s in (self, other):
            s.weigh(True, 0.0, ref, half_life)
        self.pos_w += other.pos_w
        self.neg_w += other.neg_w
        self.neg_sure += other.neg_sure
        for name in ("approved", "rejected", "added", "removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_at = max(self.last_at, other.last_at)

    def row(self) -> tuple:
        return (self.tag, self.pos_w, self.neg_w, self.ref_at, self.approved, self.rejected,
                self.added, self.removed, self.last_at, self.neg_sure)


def parse_ops(approve: Iterable[str], reject: Iterable[str], add: Iterable[str],
              remove: Iterable[str]) -> dict[str, str]:
    """tag -> new state; ValueError for a tag given two different states."""
    ops: dict[str, str] = {}
    for arg, state in zip((approve, reject, add, remove), (a[1] for a in ACTIONS), strict=True):
        if isinstance(arg, str):
            arg = (arg,)
        for tag in arg:
            if not tag:
                continue
            if tag in ops and ops[tag] != state:
                raise ValueError(f"{tag} is both {ops[tag]} and {state}")
            ops[tag] = state
    return ops


def load_stats(conn: sqlite3.Connection, tag: str) -> TagStats:
    row = conn.execute(f"SELECT {_STATS_COLUMNS} FROM tag_stats WHERE tag = ?", (tag,)).fetchone()
    return TagStats(tag) if row is None else TagStats(*row)


def save_stats(conn: sqlite3.Connection, st: TagStats) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO tag_stats({_STATS_COLUMNS}) VALUES ({_STATS_MARKS})", st.row(),
    )


def stats_for(conn: sqlite3.Connection, tags: Sequence[str], canon: Callable[[str], str],
              half_life: float) -> dict[str, TagStats]:
    """tag_stats rows, summed over synonyms into their canonical tag."""
    out: dict[str, TagStats] = {}
    uniq = list(dict.fromkeys(tags))
    for part in chunks(uniq):
        for row in conn.execute(
            f"SELECT {_STATS_COLUMNS} FROM tag_stats WHERE tag IN ({marks(len(part))})", list(part)
        ):
            st = TagStats(*row)
            key = canon(st.tag)
            have = out.get(key)
            if have is None:
                st.tag = key
                out[key] = st
            else:
                have.merge(st, half_life)
    return out


def rightness_of(conn: sqlite3.Connection, pid: int, cfg: RankingConfig) -> dict[str, float]:
    """ranking.rightness of each tag the model suggested in the photo's latest run."""
    return {s.tag: ranking.rightness(s.score, s.source, cfg)
            for s in photos.latest_suggestions(conn, pid)
            if s.source not in photos.LIBRARY_SOURCES}


def apply_decision(conn: sqlite3.Connection, pid: int, tag: str, state: str, at: float,
                   live: bool, cfg: RankingConfig, right: float | None = None) -> bool:
    """Log one decision and update the derived tables; False if it was already logged.

    `live`: the decision is being made now, so it is the latest whatever the clock says.
    Imported decisions change the photo's state only if they are newer than its current one,
    so importing in any order gives the same result. `right`: the tag's rightness on this
    photo (rightness_of; read here when not given).
    """
    cur = conn.execute(
        "INSERT OR IGNORE INTO decisions(photo_id, tag, state, at) VALUES (?, ?, ?, ?)",
        (pid, tag, state, at),
    )
    if cur.rowcount == 0:
        return False
    prev = conn.execute(
        "SELECT state, at, sure FROM photo_tags WHERE photo_id = ? AND tag = ?", (pid, tag)
    ).fetchone()
    if prev is not None and not live and prev[1] > at:
        return True  # an older decision: history only
    if right is None:
        right = rightness_of(conn, pid, cfg).get(tag, cfg.rightness_unsuggested)
    # (the same state again still moves the decision's time, for the recency weight)
    conn.execute(
        "INSERT OR REPLACE INTO photo_tags(photo_id, tag, state, at, sure) VALUES (?, ?, ?, ?, ?)",
        (pid, tag, state, at, right),
    )
    half_life = cfg.half_life_days
    st = load_stats(conn, tag)
    if prev is not None:
        st.count(prev[0], -1)
        st.weigh(prev[0] in POSITIVE_STATES, -1.0, prev[1], half_life, _sure(prev[2], cfg))
    st.count(state, +1)
    st.weigh(state in POSITIVE_STATES, +1.0, at, half_life, ranking.rejection_weight(right))
    st.last_at = max(st.last_at, at)
    save_stats(conn, st)
    was_kept = prev is not None and prev[0] in POSITIVE_STATES
    kept = state in POSITIVE_STATES
    if was_kept != kept:
        others = [
            r[0]
            for r in conn.execute(
                "SELECT tag FROM photo_tags WHERE photo_id = ? AND tag <> ? "
                "AND state IN ('approved', 'added')",
                (pid, tag),
            )
        ]
        bump(conn, "tag_pairs", ("a", "b"),
             [pair for o in others for pair in ((tag, o), (o, tag))], 1 if kept else -1)
    return True


def _sure(right: float | None, cfg: RankingConfig) -> float:
    """The rejection weight of a stored rightness (NULL: from before it was kept: unsuggested)."""
    return ranking.rejection_weight(cfg.rightness_unsuggested if right is None else right)


def reweigh_photo(conn: sqlite3.Connection, pid: int, cfg: RankingConfig) -> None:
    """After the photo's suggestions changed (tagged again): its decisions' rightness is read
    from the new ones, and tag_stats.neg_sure follows (online = rebuild)."""
    rights = rightness_of(conn, pid, cfg)
    for tag, state, at, old in conn.execute(
        "SELECT tag, state, at, sure FROM photo_tags WHERE photo_id = ?", (pid,)
    ).fetchall():
        new = rights.get(tag, cfg.rightness_unsuggested)
        if old is not None and abs(new - old) < 1e-12:
            continue
        conn.execute("UPDATE photo_tags SET sure = ? WHERE photo_id = ? AND tag = ?",
                     (new, pid, tag))
        if state in POSITIVE_STATES:
            continue
        st = load_stats(conn, tag)
        st.weigh(False, -1.0, at, cfg.half_life_days, _sure(old, cfg))
        st.weigh(False, +1.0, at, cfg.half_life_days, ranking.rejection_weight(new))
        save_stats(conn, st)


def count_context(conn: sqlite3.Connection, pid: int, sign: int) -> frozenset[str] | None:
    """Add (+1) or take out (-1) a reviewed photo's counts in suggest_seen/suggest_pairs;
    returns its kept tags (photos.kept_tags), which the habit sums need too.

    Callers take the photo out before changing its suggestions or decisions and put it back
    after, so the counts always match the current state.
    """
    kept = photos.kept_tags(conn, pid)
    if kept is None:
        return None
    suggested = photos.suggested(conn, pid)
    if suggested:
        bump(conn, "suggest_seen", ("s",), [(s,) for s in suggested], sign)
        bump(conn, "suggest_pairs", ("s", "t"),
             [(s, t) for s in suggested for t in kept if s != t], sign)
    return kept


def photo_states(conn: sqlite3.Connection, pid: int) -> list[tuple[str, str]]:
    """(tag, latest state) of the photo's decisions, oldest first."""
    return list(conn.execute(
        "SELECT tag, state FROM photo_tags WHERE photo_id = ? ORDER BY at, tag", (pid,)))


def photo_history(conn: sqlite3.Connection, pid: int) -> list[tuple[str, str, float]]:
    """Every decision on the photo, oldest first: (tag, state, time)."""
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT tag, state, at FROM decisions WHERE photo_id = ? ORDER BY at, id", (pid,)
        )
    ]


# -- rebuilding from the log ------------------------------------------------------------------
def rebuild_counts(conn: sqlite3.Connection, now: float, cfg: RankingConfig) -> None:
    """Recompute photo_tags, tag_stats, tag_pairs, suggest_seen, suggest_pairs and decided_seq
    from the decision log and the stored suggestions (in the caller's transaction)."""
    conn.execute("DELETE FROM photo_tags")
    conn.execute(
        "INSERT INTO photo_tags(photo_id, tag, state, at) "
        "SELECT photo_id, tag, state, at FROM (SELECT photo_id, tag, state, at, "
        "row_number() OVER (PARTITION BY photo_id, tag ORDER BY at DESC, id DESC) AS rn "
        "FROM decisions) WHERE rn = 1"
    )
    rebuild_stats(conn, now, cfg)
    conn.execute("DELETE FROM tag_pairs")
    conn.execute(
        "INSERT INTO tag_pairs(a, b, n) SELECT x.tag, y.tag, count(*) "
        "FROM photo_tags x JOIN photo_tags y ON x.photo_id = y.photo_id AND x.tag <> y.tag "
        "WHERE x.state IN ('approved', 'added') AND y.state IN ('approved', 'added') "
        "GROUP BY x.tag, y.tag"
    )
    _rebuild_suggest_counts(conn)
    conn.execute(
        "UPDATE photos SET decided_seq = ? + id WHERE decided_seq IS NULL "
        "AND emb_proj IS NOT NULL AND id IN (SELECT DISTINCT photo_id FROM photo_tags)",
        (photos.next_seq(conn),),
    )


def rebuild_stats(conn: sqlite3.Connection, now: float, cfg: RankingConfig) -> None:
    """photo_tags.sure (each decision's rightness, from its photo's latest suggestions) and
    tag_stats, from photo_tags."""
    half_life = cfg.half_life_days
    # ranking.rightness in SQL (one pass at 1M decisions instead of a query per photo)
    conn.execute("DROP TABLE IF EXISTS temp.latest_run")
    conn.execute("CREATE TEMP TABLE latest_run(photo_id INTEGER PRIMARY KEY, model_version TEXT)")
    conn.execute(
        "INSERT INTO temp.latest_run SELECT photo_id, model_version FROM (SELECT photo_id, "
        "model_version, row_number() OVER (PARTITION BY photo_id ORDER BY created_at DESC) AS rn "
        "FROM suggestions) WHERE rn = 1"
    )
    conn.execute(
        "UPDATE photo_tags SET sure = coalesce((SELECT min(max(CASE WHEN s.source = 'popular' "
        "THEN s.score / ? ELSE s.score END, ?), ?) FROM temp.latest_run l JOIN suggestions s "
        "ON s.photo_id = l.photo_id AND s.model_version = l.model_version "
        "WHERE l.photo_id = photo_tags.photo_id AND s.tag = photo_tags.tag "
        "AND s.source NOT IN ('library', 'rule')), ?)",
        (ranking.VARIANT_FACTOR, cfg.rightness_floor, cfg.rightness_cap,
         cfg.rightness_unsuggested),
    )
    conn.execute("DROP TABLE temp.latest_run")
    acc: dict[str, TagStats] = {}
    for tag, state, at, right in conn.execute("SELECT tag, state, at, sure FROM photo_tags"):
        st = acc.get(tag)
        if st is None:
            st = acc[tag] = TagStats(tag, ref_at=now)
        setattr(st, state, getattr(st, state) + 1)
        w = ranking.decay_factor(now - at, half_life) if at <= now else 1.0
        if state in POSITIVE_STATES:
            st.pos_w += w
        else:
            st.neg_w += w
            st.neg_sure += w * _sure(right, cfg)
        st.last_at = max(st.last_at, at)
    conn.execute("DELETE FROM tag_stats")
    conn.executemany(
        f"INSERT INTO tag_stats({_STATS_COLUMNS}) VALUES ({_STATS_MARKS})",
        [s.row() for s in acc.values()],
    )




def _rebuild_suggest_counts(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM suggest_seen")
    conn.execute("DELETE FROM suggest_pairs")
    conn.execute("DROP TABLE IF EXISTS temp.latest_sugg")
    conn.execute(
        "CREATE TEMP TABLE latest_sugg AS SELECT s.photo_id AS photo_id, s.tag AS tag "
        "FROM suggestions s JOIN (SELECT photo_id, model_version FROM (SELECT photo_id, "
        "model_version, row_number() OVER (PARTITION BY photo_id ORDER BY created_at "
        "DESC) AS rn FROM suggestions) WHERE rn = 1) l "
        "ON s.photo_id = l.photo_id AND s.model_version = l.model_version "
        "WHERE s.source NOT IN ('library', 'rule') "
        "AND s.photo_id IN (SELECT DISTINCT photo_id FROM photo_tags)"
    )
    conn.execute(
        "INSERT INTO suggest_seen(s, n) SELECT tag, count(*) FROM latest_sugg GROUP BY tag"
    )
    conn.execute(
        "INSERT INTO suggest_pairs(s, t, n) SELECT x.tag, k.tag, count(*) "
        "FROM latest_sugg x JOIN photo_tags k ON k.photo_id = x.photo_id "
        "AND k.tag <> x.tag WHERE k.state IN ('approved', 'added') GROUP BY x.tag, k.tag"
    )
    conn.execute("DROP TABLE temp.latest_sugg")
