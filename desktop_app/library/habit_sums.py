"""The habit models' sums in the library (habit_gram, habit_sums; the models are habits.py).

G and each b_t are sums over reviewed photos, kept exact online: every change to a photo's
embedding or kept tags moves its terms (`apply`, in the change's own transaction), and
`rebuild` recomputes them from the stored embeddings and decisions. The sums carry the key of
the features they were built with; sums of another tag detector are rebuilt, never misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

from . import habits
from .photos import LIBRARY_SOURCES, decode_embedding, latest_suggestions, stored_embedding
from .ranking import RankingConfig
from .rules import Rules

Change = tuple[habits.PhotoPart | None, habits.PhotoPart | None]  # (before, after) of a photo


def suggested_scores(candidates) -> dict[str, float]:
    """The model's own suggestions of a photo as the features read them: tag -> best score
    (the library's and the rules' additions left out)."""
    out: dict[str, float] = {}
    for c in candidates:
        if c.source not in LIBRARY_SOURCES:
            out[c.tag] = max(out.get(c.tag, 0.0), float(c.score))
    return out


def stored_suggested(conn: sqlite3.Connection, pid: int) -> dict[str, float]:
    """suggested_scores of the photo's latest stored model run."""
    return suggested_scores(latest_suggestions(conn, pid))


class HabitSums:
    """The habit sums of one library connection, and its fitted models (cached per change)."""

    def __init__(self, config: RankingConfig,
                 features: habits.PhotoFeatures | None | str = "default"):
        self.config = config
        self._features = features  # "default": the shipped detector's, when first needed
        self.version = 0  # bumped when this connection changes the sums
        self.checked = False  # built for the current features (see `ensure`)
        self._cache: tuple[tuple, habits.HabitModels | None] | None = None

    def features(self) -> habits.PhotoFeatures | None:
        if isinstance(self._features, str):
            self._features = habits.default_features()
        return self._features

    def phi(self, embedding: np.ndarray | None, suggested: dict[str, float] | None = None,
            ) -> np.ndarray | None:
        """What the habit models see of a photo (None: no features, or no embedding), given
        the model's suggestions for it (suggested_scores)."""
        feats = self.features()
        if feats is None or embedding is None:
            return None
        return feats(embedding, suggested)

    def stored_phi(self, conn: sqlite3.Connection, pid: int) -> np.ndarray | None:
        """phi of a stored photo: its embedding and its latest suggestions as stored."""
        feats = self.features()
        if feats is None:
            return None
        emb = stored_embedding(conn, pid)
        if emb is None:
            return None
        return self.phi(emb, stored_suggested(conn, pid) if feats.uses_suggestions else None)

    def part(self, conn: sqlite3.Connection, pid: int, kept: frozenset[str] | None,
             ) -> habits.PhotoPart | None:
        """The photo's terms in the sums, given its kept tags (None: not reviewed)."""
        if kept is None:
            return None
        return habits.part(self.stored_phi(conn, pid), kept)

    def needs_build(self, conn: sqlite3.Connection) -> bool:
        """No sums for the current features while photos have been reviewed (a library made
        by an older hashlens, or with another tag detector)."""
        self.checked = True
        feats = self.features()
        if feats is None:
            return False
        row = conn.execute("SELECT key FROM habit_gram").fetchone()
        if row is not None and row[0] == feats.key:
            return False
        return conn.execute("SELECT 1 FROM photo_tags LIMIT 1").fetchone() is not None

    def apply(self, conn: sqlite3.Connection, changes: Iterable[Change]) -> None:
        """Move the sums from photos' old terms to their new ones, (before, after) per photo,
        in the caller's transaction: one read and write of G however many photos."""
        feats = self.features()
        changes = [(b, a) for b, a in changes if b is not None or a is not None]
        if feats is None or not changes:
            return
        self.version += 1
        row = conn.execute("SELECT key, gram FROM habit_gram").fetchone()
        gram = None if row is None or row[0] != feats.key else habits.from_blob(
            row[1], feats.dim, square=True)
        if gram is None:  # first use, another detector, or damaged: rebuild (includes these)
            self.rebuild(conn)
            return
        dgram = np.zeros_like(gram)
        dn = 0
        dsums: dict[str, np.ndarray] = {}
        dkept: dict[str, int] = {}
        for before, after in changes:
            dg, db = habits.delta(before, after)
            if dg is not None:
                dgram += dg
            dn += (after is not None) - (before is not None)
            for tag, dv in db.items():
                dsums[tag] = dsums[tag] + dv if tag in dsums else dv
                dkept[tag] = dkept.get(tag, 0) + (after is not None and tag in after.kept) - (
                    before is not None and tag in before.kept)
        if dn or np.any(dgram):
            conn.execute(
                "UPDATE habit_gram SET n = n + ?, gram = ? WHERE key = ?",
                (dn, habits.to_blob(gram + dgram), feats.key),
            )
        if not self._apply_sums(conn, feats, dsums, dkept):
            self.rebuild(conn)

    @staticmethod
    def _apply_sums(conn: sqlite3.Connection, feats: habits.PhotoFeatures,
                    dsums: dict[str, np.ndarray], dkept: dict[str, int]) -> bool:
        """b_t += dsums[t] (False: a stored b_t is damaged, the caller rebuilds)."""
        for tag, dv in dsums.items():
            old = conn.execute("SELECT n, vec FROM habit_sums WHERE tag = ?", (tag,)).fetchone()
            vec = np.zeros(feats.dim) if old is None else habits.from_blob(old[1], feats.dim)
            if vec is None:
                return False
            n = (0 if old is None else old[0]) + dkept[tag]
            if n <= 0:
                conn.execute("DELETE FROM habit_sums WHERE tag = ?", (tag,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO habit_sums(tag, n, vec) VALUES (?, ?, ?)",
                    (tag, n, habits.to_blob(vec + dv)),
                )
        return True

    def rebuild(self, conn: sqlite3.Connection) -> None:
        """Recompute the sums from the stored embeddings and decisions (in chunks)."""
        self.version += 1
        conn.execute("DELETE FROM habit_gram")
        conn.execute("DELETE FROM habit_sums")
        feats = self.features()
        if feats is None:
            return
        gram = np.zeros((feats.dim, feats.dim))
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        n = 0
        kept_rows = {
            pid: set(tags.split("\n"))
            for pid, tags in conn.execute(
                "SELECT photo_id, group_concat(tag, char(10)) FROM photo_tags "
                "WHERE state IN ('approved', 'added') GROUP BY photo_id"
            )
        }
        cur = conn.execute(
            "SELECT id, embedding, emb_dtype FROM photos WHERE embedding IS NOT NULL "
            "AND id IN (SELECT DISTINCT photo_id FROM photo_tags)"
        )
        while rows := cur.fetchmany(2048):
            by_dim: dict[int, list[tuple[np.ndarray, set[str], dict]]] = {}
            for pid, blob, dtype in rows:
                emb = decode_embedding(blob, dtype)
                if np.isfinite(emb).all():  # (as the features of one photo would say)
                    sugg = stored_suggested(conn, pid) if feats.uses_suggestions else {}
                    by_dim.setdefault(emb.size, []).append((emb, kept_rows.get(pid, set()),
                                                            sugg))
            for group in by_dim.values():
                phi = feats.many(np.stack([e for e, _, _ in group]), [g for _, _, g in group])
                if phi is None:
                    continue  # embeddings of another kind (another encoder): no features
                gram += phi.T @ phi
                n += len(phi)
                for row, (_, tags, _) in zip(phi, group, strict=True):
                    for t in tags:
                        if t in sums:
                            sums[t] += row
                            counts[t] += 1
                        else:
                            sums[t] = row.copy()
                            counts[t] = 1
        conn.execute(
            "INSERT INTO habit_gram(key, n, gram) VALUES (?, ?, ?)",
            (feats.key, n, habits.to_blob(gram)),
        )
        conn.executemany(
            "INSERT INTO habit_sums(tag, n, vec) VALUES (?, ?, ?)",
            [(t, counts[t], habits.to_blob(v)) for t, v in sums.items()],
        )

    def models(self, conn: sqlite3.Connection, rules: Rules) -> habits.HabitModels | None:
        """The habit models of the most kept tags (canonical tags), fitted once per change of
        the sums (here or by another process) or of the synonyms: ~8 ms at 100k photos."""
        feats = self.features()
        if feats is None:
            return None
        cfg = self.config
        key = (conn.execute("PRAGMA data_version").fetchone()[0], self.version, feats.key,
               tuple(sorted(rules.synonyms.items())))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        models = None
        row = conn.execute("SELECT key, n, gram FROM habit_gram").fetchone()
        if row is not None and row[0] == feats.key and row[1] >= cfg.habit_min_photos:
            gram = habits.from_blob(row[2], feats.dim, square=True)
            if gram is not None:
                sums: dict[str, np.ndarray] = {}
                kept: dict[str, int] = {}
                for tag, n, blob in conn.execute(
                    "SELECT tag, n, vec FROM habit_sums WHERE n >= ? ORDER BY n DESC LIMIT ?",
                    (cfg.habit_min_kept, cfg.habit_tags),
                ):
                    vec = habits.from_blob(blob, feats.dim)
                    if vec is not None:
                        tag = rules.canon(tag)
                        sums[tag] = sums[tag] + vec if tag in sums else vec
                        kept[tag] = kept.get(tag, 0) + n
                models = habits.HabitModels.fit(gram, sums, kept, cfg.habit_ridge)
        self._cache = (key, models)
        return models

    def predictions(self, conn: sqlite3.Connection, embedding: np.ndarray, rules: Rules,
                    suggested: dict[str, float] | None = None,
                    ) -> dict[str, tuple[habits.HabitPrediction, str]]:
        """For the tags the user keeps most: P(kept) on this photo (its embedding and the
        model's `suggested` tags), with its strongest cue and that cue's name ("#child")."""
        feats = self.features()
        if feats is None or self.config.habit_tags <= 0:
            return {}
        phi = self.phi(embedding, suggested)
        if phi is None:
            return {}
        models = self.models(conn, rules)
        if models is None:
            return {}
        names = list(feats.names)
        return {h.tag: (h, names[h.cue] if h.cue < len(names) else "")
                for h in models.explain(phi)}
