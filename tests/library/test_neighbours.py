"""The k-NN index over embeddings."""

from __future__ import annotations

import numpy as np

from desktop_app.library.neighbours import (
    PROJ_DIM,
    NeighbourIndex,
    exact_similarities,
    normalise,
    project,
)


def test_search_matches_brute_force_and_grows():
    rng = np.random.default_rng(1)
    x = normalise(rng.standard_normal((3000, 32)))
    idx = NeighbourIndex(32)
    for start in range(0, 3000, 700):  # several appends: the buffer grows in place
        idx.upsert(np.arange(start, min(3000, start + 700)) + 10, x[start : start + 700])
    assert len(idx) == 3000
    q = x[5]
    found = idx.search(q, 20, exclude=15)
    brute = [i + 10 for i in np.argsort(-(x @ q)) if i != 5][:20]
    assert found.ids.tolist() == brute
    assert len(found.all_sims) == 2999
    assert 15 not in found.ids


def test_upsert_replaces_an_existing_row():
    idx = NeighbourIndex(4)
    idx.upsert(np.array([7, 8]), normalise(np.eye(4)[:2]))
    idx.upsert(np.array([7]), normalise(np.eye(4)[2:3]))
    assert len(idx) == 2
    assert idx.search(np.eye(4)[2], 1).ids.tolist() == [7]


def test_projection_keeps_cosines_roughly_and_is_deterministic():
    rng = np.random.default_rng(2)
    a = np.maximum(rng.standard_normal((50, 1024)), 0).astype(np.float32)
    pa = project(a)
    assert pa.shape == (50, PROJ_DIM)
    assert np.allclose(np.linalg.norm(pa, axis=1), 1.0, atol=1e-5)
    true = normalise(a) @ normalise(a).T
    approx = pa @ pa.T
    assert np.abs(true - approx).mean() < 0.1  # ~ 1/sqrt(PROJ_DIM); the shortlist is re-ranked exactly
    assert np.allclose(project(a[0]), pa[0], atol=1e-6)
    small = rng.standard_normal(16).astype(np.float32)  # below PROJ_DIM: just normalised
    assert np.allclose(project(small), normalise(small))
    assert np.allclose(exact_similarities(a[0], a[:3]), true[0, :3], atol=1e-5)


def test_empty_index():
    idx = NeighbourIndex(8)
    found = idx.search(np.ones(8), 5)
    assert len(found.ids) == 0 and len(found.all_sims) == 0


def test_inverted_file_finds_the_neighbours_of_clustered_data():
    rng = np.random.default_rng(4)
    centres = normalise(rng.standard_normal((40, 24)))
    labels = rng.integers(0, 40, 4000)
    x = normalise(centres[labels] + rng.standard_normal((4000, 24)).astype(np.float32) * 0.15)
    idx = NeighbourIndex(24)
    idx.upsert(np.arange(4000), x)
    idx.build_ivf(nprobe=8)
    assert len(idx) == 4000 and idx._flat_n == 0 and 17 in idx
    hits = 0
    for qi in range(0, 4000, 200):
        found = idx.search(x[qi], 10, exclude=qi)
        assert qi not in found.ids
        brute = [i for i in np.argsort(-(x @ x[qi])) if i != qi][:10]
        hits += len(set(found.ids.tolist()) & set(brute))
        assert len(found.all_sims) == 4000 or len(found.all_sims) == 4096
    assert hits / (20 * 10) > 0.9
    # photos added after the build go to the flat tail and are searched too
    new = normalise(x[5] + 0.01)
    idx.upsert(np.array([99999]), new[None])
    assert idx.search(new, 1).ids.tolist() == [99999]
    assert len(idx) == 4001
    # replacing a row that lives in the inverted file
    idx.upsert(np.array([7]), new[None])
    assert 7 in idx.search(new, 3).ids.tolist()
