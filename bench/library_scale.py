"""Scale benchmark of the tag library: a generated library of 100,000 photos and 1,000,000
decisions; ranking latency (neighbours and habit models included), start-up time and memory.

The generated library looks like a heavy user's: photos fall in 400 visual clusters (embeddings
are ReLU'd cluster centres plus noise, 1024-d float16, uncentred like pooled CNN features), each
cluster has its own content tags, the user has habit tags per cluster, ~10 decisions per photo
(approved / rejected / added / removed), ~8 model suggestions per photo.

Generation writes the tables in bulk and then calls `TagLibrary.rebuild_aggregates()`; the
measurements run in a fresh subprocess so that start-up time and memory are honest.

    .venv/bin/python bench/library_scale.py                       # 100k photos, 1M decisions
    .venv/bin/python bench/library_scale.py --photos 10000 --decisions 100000   # quick
    .venv/bin/python bench/library_scale.py --folder /tmp/big --keep   # reuse with --measure-only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop_app.library.neighbours import exact_similarities, project_raw  # noqa: E402
from desktop_app.library.ranking import RankingConfig  # noqa: E402
from desktop_app.library.store import TagLibrary  # noqa: E402
from desktop_app.results import CaptionResult, HashtagSuggestion, PhotoResult  # noqa: E402

N_CLUSTERS = 400


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB, from /proc (Linux)."""
    cur = peak = 0.0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    cur = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return cur, peak


class World:
    """The generated user's photos: clusters, their tags, their embeddings."""

    def __init__(self, seed: int, dim: int, n_tags: int):
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        rng = self.rng
        self.centres = (rng.standard_normal((N_CLUSTERS, dim)) * 0.6 + 0.3).astype(np.float32)
        self.vocab = [f"#tag{i}" for i in range(n_tags)]
        zipf = 1.0 / np.arange(1, n_tags + 1) ** 0.8
        self.zipf = zipf / zipf.sum()
        # each cluster: 12 content tags (model says them), 3 habit tags (user adds them)
        self.content = [rng.choice(n_tags, 12, replace=False, p=self.zipf) for _ in range(N_CLUSTERS)]
        self.habits = [rng.choice(n_tags, 3, replace=False) for _ in range(N_CLUSTERS)]

    def embedding(self, cluster: int, rng: np.random.Generator) -> np.ndarray:
        x = self.centres[cluster] + rng.standard_normal(self.dim).astype(np.float32) * 0.8
        return np.maximum(x, 0.0)

    def candidates(self, cluster: int, rng: np.random.Generator, k: int = 8) -> list[tuple[str, float]]:
        pool = list(self.content[cluster][:8]) + list(rng.choice(len(self.vocab), 4, p=self.zipf))
        pool = list(dict.fromkeys(pool))
        picks = rng.choice(len(pool), size=min(k, len(pool)), replace=False)
        return [(self.vocab[pool[i]], float(rng.uniform(0.3, 0.95))) for i in picks]


def generate(folder: Path, n_photos: int, n_decisions: int, dim: int, n_tags: int, seed: int) -> dict:
    world = World(seed, dim, n_tags)
    rng = np.random.default_rng(seed + 1)
    t0 = time.perf_counter()
    lib = TagLibrary.open(folder)
    conn = lib.db.conn  # bulk load straight into the schema (the API does one photo at a time)
    conn.execute("PRAGMA synchronous = OFF")
    per_photo = max(1, n_decisions // n_photos)
    extra = n_decisions - per_photo * n_photos
    base_time = 1_600_000_000.0
    states = np.array(["approved", "rejected", "added", "removed"])
    chunk = 5000
    n_dec = 0
    conn.execute("BEGIN")
    for start in range(0, n_photos, chunk):
        ids = np.arange(start, min(n_photos, start + chunk))
        clusters = rng.integers(0, N_CLUSTERS, len(ids))
        embs = np.stack([world.embedding(int(c), rng) for c in clusters])
        projs = project_raw(embs).astype("<f2")
        embs16 = embs.astype("<f2")
        photo_rows, sugg_rows, dec_rows = [], [], []
        for j, pid in enumerate(ids.tolist()):
            c = int(clusters[j])
            t = base_time + pid * 600.0
            photo_rows.append((pid + 1, f"{pid:064x}", f"/photos/{pid}.jpg", 2_000_000, t, 4000, 3000,
                               embs16[j].tobytes(), "f2", dim, projs[j].tobytes(), "bench",
                               t, t))
            cands = world.candidates(c, rng)
            for pos, (tag, score) in enumerate(cands):
                sugg_rows.append((pid + 1, "bench", tag, score, "caption", pos, t))
            n_here = per_photo + (1 if pid < extra else 0)
            habit = [world.vocab[h] for h in world.habits[c]]
            pool = [tag for tag, _ in cands] + habit
            used = set()
            for k in range(n_here):
                tag = pool[k] if k < len(pool) else world.vocab[int(rng.choice(len(world.vocab), p=world.zipf))]
                if tag in used:
                    tag = f"{tag}x{k}"
                used.add(tag)
                if tag in habit:
                    state = "added"
                else:
                    state = str(states[int(rng.choice(4, p=[0.55, 0.35, 0.0, 0.10]))])
                dec_rows.append((pid + 1, tag, state, t + k))
        conn.executemany(
            "INSERT INTO photos(id, content_hash, path, file_size, mtime, width, height, embedding, "
            "emb_dtype, emb_dim, emb_proj, emb_model, added_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            photo_rows,
        )
        conn.executemany(
            "INSERT INTO suggestions(photo_id, model_version, tag, score, source, position, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            sugg_rows,
        )
        conn.executemany(
            "INSERT INTO decisions(photo_id, tag, state, at) VALUES (?, ?, ?, ?)", dec_rows
        )
        n_dec += len(dec_rows)
    conn.execute("COMMIT")
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    lib.rebuild_aggregates()
    t_rebuild = time.perf_counter() - t1
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stats = lib.stats()
    lib.close()
    return {"photos": n_photos, "decisions": n_dec, "load_s": round(t_load, 1),
            "rebuild_s": round(t_rebuild, 1), "db_mb": round(stats["size_bytes"] / 2**20, 1),
            "tags": stats["tags"]}


def measure(
    folder: Path, queries: int, dim: int, n_tags: int, seed: int, config: RankingConfig
) -> dict:
    """Run in a fresh process: open, first rank (loads the index), then timed ranks."""
    world = World(seed, dim, n_tags)
    rng = np.random.default_rng(seed + 99)
    out: dict = {"rss_before_open_mb": round(rss_mb()[0], 1)}
    t0 = time.perf_counter()
    lib = TagLibrary.open(folder, config=config)
    out["open_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out["rss_after_open_mb"] = round(rss_mb()[0], 1)

    def query(i: int):
        c = int(rng.integers(0, N_CLUSTERS))
        cands = [HashtagSuggestion(t, s, "caption") for t, s in world.candidates(c, rng)]
        chosen = tuple(world.vocab[h] for h in world.habits[c][: i % 3])  # 0-2 chosen tags
        return cands, world.embedding(c, rng), chosen

    cands, emb, chosen = query(0)
    t0 = time.perf_counter()
    first = lib.rank(cands, emb, chosen=chosen)
    out["first_rank_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out["index_photos"] = len(lib._neighbours.index) if lib._neighbours.index is not None else 0
    out["index_mb"] = round(lib._neighbours.index.nbytes / 2**20, 1) if lib._neighbours.index is not None else 0
    out["rss_after_first_rank_mb"] = round(rss_mb()[0], 1)
    times = []
    n_library = 0
    for i in range(queries):
        cands, emb, chosen = query(i)
        t0 = time.perf_counter()
        ranked = lib.rank(cands, emb, chosen=chosen)
        times.append((time.perf_counter() - t0) * 1000)
        n_library += sum(1 for s in ranked if s.source == "library")
    times_arr = np.array(times)
    out["rank_ms_median"] = round(float(np.median(times_arr)), 2)
    out["rank_ms_p95"] = round(float(np.percentile(times_arr, 95)), 2)
    out["rank_ms_max"] = round(float(times_arr.max()), 2)
    out["library_tags_per_rank"] = round(n_library / max(1, queries), 1)
    # decisions on newly tagged photos (each also updates the learned weights, which costs one
    # neighbour search for the photo)
    dtimes, atimes = [], []
    for i in range(min(50, queries)):
        cands, emb, chosen = query(i)
        h = f"bench-new-{i}"
        cap = CaptionResult("a photo", ("a", "photo"), (0.9, 0.9), np.full((2, 49), 1 / 49),
                            (7, 7), -1.0, embedding=emb)
        lib.record_result(PhotoResult(f"/new/{i}.jpg", cap, cands, content_hash=h), 1.0, 1, "bench")
        t0 = time.perf_counter()
        lib.record_decisions(h, approve=[cands[0].tag], reject=[cands[1].tag], add=["#mine"])
        dtimes.append((time.perf_counter() - t0) * 1000)
        cands, emb, chosen = query(i + 1)
        t0 = time.perf_counter()  # the next photo's ranking refits the habit models first
        lib.rank(cands, emb, chosen=chosen)
        atimes.append((time.perf_counter() - t0) * 1000)
    out["decision_ms_median"] = round(float(np.median(dtimes)), 2)
    out["decision_ms_p95"] = round(float(np.percentile(dtimes, 95)), 2)
    out["rank_after_decision_ms_median"] = round(float(np.median(atimes)), 2)
    out["rank_after_decision_ms_p95"] = round(float(np.percentile(atimes, 95)), 2)
    t0 = time.perf_counter()
    lib.stats()
    out["stats_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    cur, peak = rss_mb()
    out["rss_end_mb"], out["rss_peak_mb"] = round(cur, 1), round(peak, 1)
    out["example"] = [s.to_json() for s in first[:3]]
    out["neighbour_recall"] = neighbour_recall(lib, [query(i)[1] for i in range(10)])
    lib.close()
    return out


def neighbour_recall(lib: TagLibrary, queries: list[np.ndarray]) -> tuple[float, float]:
    """(Share of the exact k nearest reviewed photos (brute force over the full embeddings,
    centred like the library) that its search (projection, inverted file, shortlist, exact
    re-rank) finds; mean similarity of those found / of the exact ones). After the timings: it
    loads every embedding."""
    k, shortlist = lib.config.k, lib.config.shortlist
    conn = lib.db.conn
    ids, mats = [], []
    for pid, blob in conn.execute(
        "SELECT id, embedding FROM photos WHERE decided_seq IS NOT NULL AND emb_dtype = 'f2'"
    ):
        ids.append(pid)
        mats.append(np.frombuffer(blob, dtype="<f2"))
    full = np.stack(mats).astype(np.float32)
    id_arr = np.array(ids)
    row_of = {pid: i for i, pid in enumerate(ids)}
    hits = total = 0
    ratio = []
    for q in queries:
        exact_all = exact_similarities(q, full, lib._neighbours.mu_full)
        best = np.argsort(-exact_all)[:k]
        exact = set(id_arr[best].tolist())
        found = lib._neighbours.index.search_raw(project_raw(q), shortlist)
        cand = [int(i) for i in found.ids]
        sims = np.array([exact_all[row_of[i]] for i in cand])
        order = np.argsort(-sims)[:k]
        got = {cand[i] for i in order}
        hits += len(exact & got)
        total += k
        ratio.append(float(sims[order].mean() / exact_all[best].mean()))
    return round(hits / total, 3), round(float(np.mean(ratio)), 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--decisions", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--tags", type=int, default=5000, help="vocabulary size")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folder", type=Path, help="library folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated library")
    ap.add_argument("--measure-only", action="store_true", help="measure an existing --folder")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a RankingConfig field, e.g. --set shortlist=256")
    ap.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._child:
        config = RankingConfig.from_overrides(args.set)
        print(json.dumps(measure(args.folder, args.queries, args.dim, args.tags, args.seed, config)))
        return 0

    folder = args.folder or Path(tempfile.mkdtemp(prefix="hashlens-scale-"))
    report: dict = {}
    try:
        if not args.measure_only:
            if (folder / "library.sqlite3").exists():
                raise SystemExit(f"{folder} already has a library; use --measure-only or another folder")
            print(f"generating {args.photos} photos / {args.decisions} decisions in {folder} ...")
            report["generate"] = generate(folder, args.photos, args.decisions, args.dim, args.tags, args.seed)
            print(json.dumps(report["generate"]))
        proc = subprocess.run(
            [sys.executable, __file__, "--_child", "--folder", str(folder), "--queries",
             str(args.queries), "--dim", str(args.dim), "--tags", str(args.tags), "--seed",
             str(args.seed), *[f"--set={x}" for x in args.set]],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        report["measure"] = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep and not args.measure_only:
            shutil.rmtree(folder, ignore_errors=True)
    m = report["measure"]
    print(f"open {m['open_ms']} ms (RSS {m['rss_before_open_mb']} -> {m['rss_after_open_mb']} MiB); "
          f"first rank {m['first_rank_ms']} ms loads the neighbour index "
          f"({m['index_photos']} photos, {m['index_mb']} MiB; RSS {m['rss_after_first_rank_mb']} MiB)")
    print(f"rank: median {m['rank_ms_median']} ms, p95 {m['rank_ms_p95']} ms, max {m['rank_ms_max']} ms "
          f"over {args.queries} photos (goal <= 20 ms: p95/goal = {m['rank_ms_p95'] / 20:.2f}); "
          f"{m['library_tags_per_rank']} library tags per ranking")
    recall, ratio = m["neighbour_recall"]
    print(f"neighbours: recall@15 of the exact nearest reviewed photos {recall}; their mean "
          f"similarity is {ratio:.3f} of the exact neighbours'")
    print(f"rank right after a decision (refits the habit models): median "
          f"{m['rank_after_decision_ms_median']} ms, p95 {m['rank_after_decision_ms_p95']} ms")
    print(f"record_decisions: median {m['decision_ms_median']} ms, p95 {m['decision_ms_p95']} ms; "
          f"stats {m['stats_ms']} ms; RSS end {m['rss_end_mb']} MiB, peak {m['rss_peak_mb']} MiB; "
          f"CPUs {os.cpu_count()}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
