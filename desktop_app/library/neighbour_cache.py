"""The library's neighbour index (neighbours.py), kept in memory and in step with the file.

Only reviewed photos vote, so only they are indexed: each enters with a sequence number
(photos.decided_seq) when it gets its first decision or a new embedding, and the index reads
what entered since its last look, whichever process wrote it. It is loaded on the first ranking
with an embedding (100k photos: ~1 s, 50 MB), never at start-up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import numpy as np

from . import ranking
from .db import chunks, marks
from .neighbours import NeighbourIndex, exact_similarities, project_raw
from .photos import decode_embedding, stored_embedding
from .ranking import POSITIVE_STATES, RankingConfig


class NeighbourCache:
    def __init__(self, config: RankingConfig):
        self.config = config
        self.index: NeighbourIndex | None = None
        self._dim_in = 0
        self._seq = 0  # the last decided_seq read
        self._centred_n = 0  # index size when its centre was computed
        self.mu_full: np.ndarray | None = None  # mean embedding (a sample), for exact cosines

    def clear(self) -> None:
        self.index = None

    def refresh(self, conn: sqlite3.Connection, dim_in: int) -> NeighbourIndex:
        """The index, brought up to date (by decided_seq) with other calls and processes.

        The first call loads every reviewed photo's stored projection (100k photos: ~1 s). The
        centre is computed then, from all of them, and the index is rebuilt when it has doubled
        since (or reaches `center_min_photos`, below which it is not centred at all).
        """
        cfg = self.config
        index = self.index
        if index is not None and self._dim_in == dim_in:
            ids, raw = self._load_projections(conn, dim_in)
            if len(ids):
                index.add_raw(ids, raw)
            n = len(index)
            stale = (index.center is None and n >= cfg.center_min_photos) or (
                index.center is not None and n >= 2 * self._centred_n
            )
            if not stale:
                if index._flat_n > max(cfg.ivf_min_photos, n // 4):
                    index.build_ivf(cfg.ivf_nprobe)  # the unclustered tail grew too long
                return index
        self._seq = 0
        self._dim_in = dim_in
        ids, raw = self._load_projections(conn, dim_in)
        dim = raw.shape[1]
        center = None
        self.mu_full = None
        if len(ids) >= cfg.center_min_photos:
            center = raw.mean(axis=0)
            self.mu_full = self._sample_mean(conn, ids, dim_in)
        index = NeighbourIndex(dim, capacity=len(ids), center=center)
        if len(ids):
            index.add_raw(ids, raw)
        del raw
        if len(ids) >= cfg.ivf_min_photos:
            index.build_ivf(cfg.ivf_nprobe)
        self.index = index
        self._centred_n = max(1, len(ids))
        return index

    def _load_projections(self, conn: sqlite3.Connection, dim_in: int,
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Stored projections of photos that entered the index after `_seq`."""
        dim = project_raw(np.zeros(dim_in, np.float32)).size
        all_ids: list[np.ndarray] = []
        all_raw: list[np.ndarray] = []
        cur = conn.execute(
            "SELECT id, emb_proj, emb_dim, decided_seq FROM photos "
            "WHERE decided_seq > ? ORDER BY decided_seq",
            (self._seq,),
        )
        while rows := cur.fetchmany(20000):
            self._seq = max(self._seq, int(rows[-1][3]))
            rows = [r for r in rows if r[2] == dim_in and r[1] is not None]
            good = [r for r in rows if len(r[1]) == 2 * dim]
            if good:
                vecs = np.frombuffer(b"".join(r[1] for r in good), dtype="<f2")
                all_ids.append(np.array([r[0] for r in good], dtype=np.int64))
                all_raw.append(vecs.reshape(len(good), dim).astype(np.float32))
            for r in rows:  # stored with another projection size: project the embedding again
                if len(r[1]) != 2 * dim:
                    emb = stored_embedding(conn, r[0])
                    if emb is not None:
                        all_ids.append(np.array([r[0]], dtype=np.int64))
                        all_raw.append(project_raw(emb)[None])
        if not all_ids:
            return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
        return np.concatenate(all_ids), np.concatenate(all_raw)

    @staticmethod
    def _sample_mean(conn: sqlite3.Connection, ids: np.ndarray, dim_in: int) -> np.ndarray:
        """The mean full embedding of up to 512 reviewed photos spread over the library."""
        pick = np.unique(ids[np.linspace(0, len(ids) - 1, min(512, len(ids))).astype(int)])
        total = np.zeros(dim_in, np.float64)
        n = 0
        for part in chunks([int(i) for i in pick]):
            for blob, dtype in conn.execute(
                f"SELECT embedding, emb_dtype FROM photos WHERE id IN ({marks(len(part))})",
                list(part),
            ):
                if blob is not None:
                    vec = decode_embedding(blob, dtype)
                    if vec.size == dim_in:
                        total += vec
                        n += 1
        return (total / max(1, n)).astype(np.float32)

    def votes(self, conn: sqlite3.Connection, embedding: np.ndarray, exclude: int | None,
              canon: Callable[[str], str]) -> ranking.NeighbourVotes | None:
        """What the most similar reviewed photos kept and rejected, weighted by similarity."""
        cfg = self.config
        emb = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if emb.size == 0 or not np.all(np.isfinite(emb)) or not np.any(emb):
            return None
        index = self.refresh(conn, emb.size)
        if len(index) == 0:
            return None
        q_raw = project_raw(emb)
        found = index.search_raw(q_raw, max(cfg.k, cfg.shortlist), exclude=exclude)
        if len(found.ids) == 0:
            return None
        reference = found.all_sims
        if len(reference) < cfg.min_median_rows:  # a new library: what all its photos score
            reference = self._reference_sims(conn, index, q_raw, dim_in=emb.size, exclude=exclude)
        # (with too few photos to tell a similar photo from an ordinary one: near-duplicates)
        baseline = ranking.similarity_baseline(reference, cfg)
        ids, sims = self._exact(conn, emb, found.ids, found.sims)
        weights = ranking.neighbour_weights(sims, baseline, cfg.similarity_power)
        use = [int(i) for i, w in zip(ids, weights, strict=True) if w > 0]
        if not use:
            return None
        kept: dict[int, list[str]] = {i: [] for i in use}
        rejected: dict[int, list[str]] = {i: [] for i in use}
        for photo_id, tag, state in conn.execute(
            f"SELECT photo_id, tag, state FROM photo_tags WHERE photo_id IN ({marks(len(use))})",
            use,
        ):
            (kept if state in POSITIVE_STATES else rejected)[photo_id].append(canon(tag))
        w_by_id = {int(i): float(w) for i, w in zip(ids, weights, strict=True)}
        return ranking.neighbour_votes(
            [w_by_id[i] for i in use], [kept[i] for i in use], [rejected[i] for i in use]
        )

    @staticmethod
    def _reference_sims(conn: sqlite3.Connection, index: NeighbourIndex, q_raw: np.ndarray,
                        dim_in: int, exclude: int | None, most: int = 1024) -> np.ndarray:
        """The query's similarity to the library's photos, reviewed or not (a strided sample
        of `most`): while few photos have decisions, the ones only tagged say what an ordinary
        photo scores against this one. Read only then (a new library: a few ms)."""
        n, top = conn.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM photos WHERE emb_proj IS NOT NULL "
            "AND emb_dim = ?", (dim_in,)).fetchone()
        step = max(1, int(top) // most) if n > most else 1
        rows = conn.execute(
            "SELECT emb_proj FROM photos WHERE emb_proj IS NOT NULL AND emb_dim = ? "
            "AND id % ? = 0 AND id <> ? LIMIT ?",
            (dim_in, step, -1 if exclude is None else int(exclude), most),
        ).fetchall()
        want = 2 * index.dim
        blobs = [r[0] for r in rows if len(r[0]) == want]
        if not blobs:
            return np.zeros(0)
        raw = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), index.dim)
        return index.prepare(raw.astype(np.float32)) @ index.prepare(q_raw)

    def _exact(self, conn: sqlite3.Connection, emb: np.ndarray, ids: np.ndarray,
               sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The k best of the shortlist by exact cosines from the stored embeddings."""
        k = self.config.k
        if len(ids):
            id_list = [int(i) for i in ids]
            rows = [
                r
                for r in conn.execute(
                    "SELECT id, embedding, emb_dtype FROM photos "
                    f"WHERE id IN ({marks(len(id_list))})",
                    id_list,
                )
                if r[1] is not None and r[2] == "f2" and len(r[1]) == 2 * emb.size
            ]
            if rows:
                mat = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2")
                exact = exact_similarities(
                    emb, mat.reshape(len(rows), emb.size).astype(np.float32), self.mu_full
                )
                top = np.argsort(-exact, kind="stable")[:k]
                ids = np.array([r[0] for r in rows], dtype=np.int64)[top]
                sims = exact[top].astype(np.float64)
        return ids[:k], sims[:k]
