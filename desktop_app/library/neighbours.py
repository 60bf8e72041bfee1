"""k nearest neighbours over photo embeddings (cosine similarity, NumPy only).

Why not just `matrix @ query` over the stored 1024-d embeddings: at 100,000 photos that is 400 MB
of float32 (200 MB of float16, which NumPy multiplies without BLAS, ~10x slower) and ~40 ms per
query on a 2-core laptop, against a budget of 20 ms for the whole ranking. So:

1. Every embedding is projected once, when it is recorded, to `PROJ_DIM` (128) dims with a fixed
   Gaussian random matrix (Johnson-Lindenstrauss: inner products are kept to about
   |x||y|/sqrt(PROJ_DIM)) and stored as float16 next to the full embedding.
   Pooled CNN features are all-positive, so any two photos have a cosine of 0.4-0.6 and that
   error would swamp the difference between "similar" and "unrelated". So the index subtracts
   the library's mean projection (its *centre*) before normalising: unrelated photos then sit
   near 0 and the projection error no longer hides the true neighbours. The centre is fixed when
   the index is built and recomputed whenever the index has doubled since.
2. The index holds only photos that have decisions (only they can vote), as float32 rows of
   PROJ_DIM. 100k photos: 50 MB. From 20,000 photos it is an inverted file (k-means into
   sqrt(n) clusters, the 16 nearest clusters searched: ~5% of the rows per query).
3. A search takes the approximate top `shortlist`, and the caller re-ranks those exactly with
   their full embeddings (`exact_similarities`, centred with the mean of a sample of the
   library's embeddings), so the votes use true (centred) cosines.

The index is built lazily on the first search and grows in place, so start-up loads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROJ_DIM = 128
PROJ_SEED = 20240607  # part of the stored format: changing it needs a migration


_projections: dict[tuple[int, int, int], np.ndarray | None] = {}


def projection_matrix(dim_in: int, dim_out: int = PROJ_DIM, seed: int = PROJ_SEED):
    """The fixed (dim_in, dim_out) Gaussian projection, or None when dim_in <= dim_out."""
    key = (dim_in, dim_out, seed)
    if key not in _projections:
        if dim_in <= dim_out:
            _projections[key] = None
        else:
            rng = np.random.default_rng(seed + dim_in)
            mat = rng.standard_normal((dim_in, dim_out)).astype(np.float32)
            _projections[key] = mat / np.sqrt(dim_out, dtype=np.float32)
    return _projections[key]


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows (or one vector) scaled to unit L2 norm; zero vectors stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def project_raw(embedding: np.ndarray, dim_out: int = PROJ_DIM) -> np.ndarray:
    """Embedding(s) (..., dim_in) -> float32 (..., min(dim_in, dim_out)), not normalised.

    This is what the library stores: centring (below) needs the unnormalised projection."""
    emb = np.asarray(embedding, dtype=np.float32)
    mat = projection_matrix(emb.shape[-1], dim_out)
    return emb @ mat if mat is not None else emb.copy()


def project(embedding: np.ndarray, dim_out: int = PROJ_DIM) -> np.ndarray:
    """Embedding(s) (..., dim_in) -> normalised float32 (..., min(dim_in, dim_out))."""
    return normalise(project_raw(embedding, dim_out))


def exact_similarities(
    query: np.ndarray, rows: np.ndarray, center: np.ndarray | None = None
) -> np.ndarray:
    """Cosine similarity of `query` (d,) with each row of `rows` (m, d), both minus `center`."""
    if center is not None:
        return matvec(normalise(rows - center), normalise(query - center))
    return matvec(normalise(rows), normalise(query))


@dataclass
class SearchResult:
    ids: np.ndarray  # int64 photo ids, best first
    sims: np.ndarray  # approximate cosine similarities, same order
    all_sims: np.ndarray  # similarity to every indexed photo (for the median baseline)


def matvec(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """rows (m, d) @ q (d,) without BLAS: on a busy 2-core machine OpenBLAS's threads cost
    ~8 ms per call to wake (4096 x 128: 7.7 ms with BLAS, 0.3 ms with einsum)."""
    return np.einsum("ij,j->i", rows, q)


def spherical_kmeans(
    x: np.ndarray, k: int, iters: int = 6, sample: int = 20000, seed: int = 0
) -> np.ndarray:
    """k unit-norm centroids for unit-norm rows `x` (trained on a sample of them)."""
    rng = np.random.default_rng(seed)
    train = x[rng.choice(len(x), min(sample, len(x)), replace=False)] if len(x) > sample else x
    cent = train[rng.choice(len(train), k, replace=False)].copy()
    for _ in range(iters):
        assign = np.argmax(train @ cent.T, axis=1)
        order = np.argsort(assign, kind="stable")
        sorted_assign = assign[order]
        starts = np.searchsorted(sorted_assign, np.arange(k))
        present = np.unique(sorted_assign)
        sums = np.add.reduceat(train[order], starts[present], axis=0)
        cent[present] = normalise(sums)
    return cent


def assign_clusters(x: np.ndarray, centroids: np.ndarray, chunk: int = 20000) -> np.ndarray:
    return np.concatenate(
        [np.argmax(x[i : i + chunk] @ centroids.T, axis=1) for i in range(0, len(x), chunk)]
    ) if len(x) else np.zeros(0, dtype=np.int64)


class _Ivf:
    """An inverted file over a frozen set of rows: rows sorted by nearest centroid, so a search
    reads only the `nprobe` clusters nearest the query (about 5% of the rows)."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, nprobe: int, seed: int = 0):
        k = max(1, int(np.sqrt(len(ids))))
        self.centroids = spherical_kmeans(vectors, k, seed=seed)
        assign = assign_clusters(vectors, self.centroids)
        order = np.argsort(assign, kind="stable")
        self.rows = np.ascontiguousarray(vectors[order])  # (m, dim), grouped by cluster
        self.ids = ids[order]
        self.offsets = np.searchsorted(assign[order], np.arange(k + 1))
        self.nprobe = min(nprobe, k)
        rng = np.random.default_rng(seed + 1)
        pick = np.sort(rng.choice(len(ids), min(4096, len(ids)), replace=False))
        self.sample = np.ascontiguousarray(self.rows[pick])  # for the median similarity
        self.row_of = {int(pid): i for i, pid in enumerate(self.ids.tolist())}

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.ids.nbytes + self.sample.nbytes + self.centroids.nbytes)

    def candidates(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows' positions, similarities) in the clusters nearest to q."""
        csims = self.centroids @ q
        probe = np.argpartition(csims, len(csims) - self.nprobe)[len(csims) - self.nprobe :]
        spans = [(self.offsets[c], self.offsets[c + 1]) for c in probe.tolist()]
        pos = np.concatenate([np.arange(a, b) for a, b in spans])
        sub = np.concatenate([self.rows[a:b] for a, b in spans])
        return pos, matvec(sub, q)


class NeighbourIndex:
    """Growable in-memory index of projected, normalised embeddings keyed by photo id.

    Small libraries: one (dim, capacity) float32 matrix; capacity grows by half when full.
    Searches use `einsum`, not BLAS (see `matvec`).

    From `ivf_min` photos, `build_ivf()` moves the rows into an inverted file (k-means,
    sqrt(n) clusters, `nprobe` searched); photos added later go to the flat part until the
    caller rebuilds. A search then reads ~5% of the index instead of all of it.
    """

    def __init__(self, dim: int, capacity: int = 0, center: np.ndarray | None = None):
        self.dim = dim
        self.center = None if center is None else np.asarray(center, np.float32).reshape(dim)
        self._mat = np.zeros((dim, max(256, capacity)), dtype=np.float32)
        self._ids = np.zeros(self._mat.shape[1], dtype=np.int64)
        self._row: dict[int, int] = {}
        self._flat_n = 0
        self._ivf: _Ivf | None = None

    def __len__(self) -> int:
        return self._flat_n + (len(self._ivf.ids) if self._ivf is not None else 0)

    @property
    def nbytes(self) -> int:
        ivf = self._ivf.nbytes if self._ivf is not None else 0
        return int(self._mat.nbytes + self._ids.nbytes + ivf)

    def _reserve(self, need: int) -> None:
        cap = self._mat.shape[1]
        if need <= cap:
            return
        new_cap = max(need, cap + cap // 2)
        mat = np.zeros((self.dim, new_cap), dtype=np.float32)
        mat[:, : self._flat_n] = self._mat[:, : self._flat_n]
        ids = np.zeros(new_cap, dtype=np.int64)
        ids[: self._flat_n] = self._ids[: self._flat_n]
        self._mat, self._ids = mat, ids

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace rows; `vectors` (m, dim) must already be projected and normalised."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        last: dict[int, int] = {}  # a photo id repeated within one call: its last vector wins
        for i, pid in enumerate(ids.tolist()):
            last[pid] = i
        new = []
        ivf_rows = self._ivf.row_of if self._ivf is not None else {}
        for pid, i in last.items():
            row = self._row.get(pid)
            if row is not None:
                self._mat[:, row] = vectors[i]
            elif pid in ivf_rows:  # replaced in place (its cluster may be a little stale)
                self._ivf.rows[ivf_rows[pid]] = vectors[i]
            else:
                new.append(i)
        if new:
            sel = np.asarray(new)
            start = self._flat_n
            self._reserve(start + len(sel))
            self._mat[:, start : start + len(sel)] = vectors[sel].T
            self._ids[start : start + len(sel)] = ids[sel]
            for pos, pid in enumerate(ids[sel].tolist()):
                self._row[pid] = start + pos
            self._flat_n = start + len(sel)

    def build_ivf(self, nprobe: int = 16, seed: int = 0) -> None:
        """Move every row into an inverted file (seconds at 100k rows; call it once per build)."""
        ids = [self._ids[: self._flat_n]]
        vecs = [self._mat[:, : self._flat_n].T]
        if self._ivf is not None:
            ids.append(self._ivf.ids)
            vecs.append(self._ivf.rows)
        all_ids = np.concatenate(ids)
        if len(all_ids) == 0:
            return
        self._ivf = _Ivf(all_ids, np.concatenate(vecs).astype(np.float32), nprobe, seed)
        self._mat = np.zeros((self.dim, 256), dtype=np.float32)
        self._ids = np.zeros(256, dtype=np.int64)
        self._row = {}
        self._flat_n = 0

    def prepare(self, raw: np.ndarray) -> np.ndarray:
        """Raw projection(s) -> what the index holds: minus the centre, normalised."""
        raw = np.asarray(raw, dtype=np.float32)
        return normalise(raw - self.center if self.center is not None else raw)

    def add_raw(self, ids: np.ndarray, raw: np.ndarray) -> None:
        self.upsert(ids, self.prepare(np.asarray(raw, np.float32).reshape(-1, self.dim)))

    def search_raw(self, query_raw: np.ndarray, k: int, exclude: int | None = None):
        return self.search(self.prepare(query_raw), k, exclude)

    def __contains__(self, photo_id: int) -> bool:
        pid = int(photo_id)
        return pid in self._row or (self._ivf is not None and pid in self._ivf.row_of)

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of `query` (projected, normalised) to every flat row."""
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        return np.einsum("ji,j->i", self._mat[:, : self._flat_n], q)

    def search(self, query: np.ndarray, k: int, exclude: int | None = None) -> SearchResult:
        """The k most similar indexed photos to `query` (already projected and normalised).

        `all_sims` holds the similarity to every photo (flat index) or to a fixed sample of
        4096 (inverted file): what the caller needs is their median."""
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        if len(self) == 0:
            empty = np.zeros(0)
            return SearchResult(empty.astype(np.int64), empty, empty)
        sims = self.similarities(q)
        ids = self._ids[: self._flat_n]
        baseline = sims
        if self._ivf is not None:
            pos, ivf_sims = self._ivf.candidates(q)
            sims = np.concatenate([sims, ivf_sims])
            ids = np.concatenate([ids, self._ivf.ids[pos]])
            baseline = np.concatenate([baseline[:4096], matvec(self._ivf.sample, q)])
        if exclude is not None:
            hit = ids == int(exclude)
            if hit.any():
                sims = np.where(hit, -np.inf, sims)
                if self._ivf is None:
                    baseline = sims[~hit]
        n = len(sims)
        k = min(k, n)
        top = np.argpartition(sims, n - k)[n - k :] if k < n else np.arange(n)
        top = top[np.argsort(-sims[top], kind="stable")]
        top = top[np.isfinite(sims[top])]
        return SearchResult(ids[top].copy(), sims[top].astype(np.float64), baseline)
