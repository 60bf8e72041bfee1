"""Tagging speed and memory: the shipped model on both runtimes and two peer designs, one run.

    python -m bench.captioner_speed                      # full run, ~15 min on 2 cores
    python -m bench.captioner_speed --quick              # fewer photos and runs, < 3 min
    python -m bench.captioner_speed --designs hashlens,hashlens-tf --sets phone12mp --cold 0

Designs (each photo set in its own subprocess, so load time and peak RSS are its own):
- hashlens: the shipped bundle on the default runtime (LiteRT encoder MobileNetV1 7x7x1024,
  NumPy attention LSTM 512 decoder, beam 3);
- hashlens-nodet: the same without the object and face detectors (what they cost);
- hashlens-tf: the same bundle with the TensorFlow encoder (`HASHLENS_RUNTIME=tensorflow`,
  the previous build's runtime); decoder and tag detector as in hashlens;
- deeprnn: the DeepRNN/image_captioning design (VGG16 conv5_3 14x14x512 + attention LSTM 512,
  embedding 512, 5,000 words, beam 3), random weights of the same shapes, on TensorFlow;
- tf-tutorial: the TensorFlow "image captioning with visual attention" tutorial design
  (InceptionV3 at 299x299, 8x8x2048 + Bahdanau attention GRU 512, embedding 256, 5,000 words,
  greedy), random weights of the same shapes; its GRU step runs as TensorFlow functions.
hashlens and deeprnn decode with the same NumPy step, so their difference is the architecture.
The peers have no LiteRT model: they run on TensorFlow.

Photo sets:
- flickr8k: Flickr8k test photos (small JPEGs, ~500x375), ../shared/datasets/flickr8k;
- phone12mp: 12 MP phone-size JPEGs (4000x3000, ~2.6 MB) made from the COCO sample photos by
  bench/phone_photos.py into .cache/bench/ (made once, outside git).

Every figure goes through the app's own path, `Pipeline(use_library=False, captioner=cap)
.tag_paths(paths)` (read, decode, hash, caption, hashtags; the next batch decoded on a thread
pool beside the model):
- 1 photo ms: `tag_paths([photo])`, median (and p90) over photos, model warm; with where that
  time goes (decode = read + JPEG decode + resize + hash; encoder; decoder = beam search; tags =
  hashtag candidates and ranking);
- photos/s: `tag_paths(all photos)` in batches of 16 (the app's default), results per second,
  median of --passes passes;
- load s and peak RSS of the measuring process;
- cold start: the whole `hashlens tag --no-library ONE_12MP_PHOTO` process (HASHLENS_HOME a
  temp folder), wall time and peak RSS from /usr/bin/time (else getrusage), median of --cold runs
  after one unmeasured run, for the default runtime and for HASHLENS_RUNTIME=tensorflow.
The machine's other load shows up in every figure: each row says how many cores the rest of the
machine used while it was measured ("others", from /proc/stat), a disturbed row is measured again
(--retries), and the least disturbed try is printed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import desktop_app  # noqa: F401  (first: it sets how NumPy's threads wait, as in the app)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = ROOT / ".." / "shared" / "datasets" / "flickr8k"
DESIGNS = ("hashlens", "hashlens-nodet", "hashlens-tf", "deeprnn", "tf-tutorial")
# the shipped bundle: design -> runtime
SHIPPED = {"hashlens": "litert", "hashlens-nodet": "litert", "hashlens-tf": "tensorflow"}
NO_DETECTORS = {"hashlens-nodet"}  # the app without its object and face detectors: their cost
DETECTOR_GOAL_MS = 25.0  # all detectors together, a photo, batched (issue 16)
SETS = ("flickr8k", "phone12mp")
BATCH = 16  # TagOptions.batch_size, the app's default
GOALS = {"phone_ms": 90.0, "phone_per_s": 20.0, "flickr_per_s": 40.0, "cold_s": 1.5, "cold_mb": 350.0}


def _flickr_photos(folder: Path, n: int) -> list[Path]:
    test = folder / "splits" / "test.txt"
    if test.exists():
        names = test.read_text().split()[:n]
        return [folder / "images" / x for x in names]
    from desktop_app.imaging import iter_image_files

    return list(iter_image_files([folder]))[:n]


def _photos(photo_set: str, n: int, flickr: Path) -> list[Path]:
    if photo_set == "flickr8k":
        return _flickr_photos(flickr, n)
    from bench.phone_photos import phone_photos

    return phone_photos(n, quiet=True)


# -- the designs ------------------------------------------------------------------------------
def _build(design: str):
    """-> (captioner, beam)."""
    from desktop_app.captioning.inference import BundleCaptioner

    if design in SHIPPED:
        return BundleCaptioner.load(None, runtime=SHIPPED[design]), 3

    import keras
    import tensorflow as tf

    from desktop_app.captioning.config import DecoderConfig
    from desktop_app.captioning.decoder import AttentionDecoder, build_decoder
    from desktop_app.captioning.inference import captioner_from_keras
    from desktop_app.captioning.vocabulary import Vocabulary

    keras.utils.set_random_seed(0)
    vocab = Vocabulary([f"w{i}" for i in range(4996)])
    if design == "deeprnn":
        vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3))
        body = keras.Model(vgg.input, vgg.get_layer("block5_conv3").output)

        def enc(x, training=False):
            f = body(keras.applications.vgg16.preprocess_input(x), training=False)
            return {"features": f, "logits": tf.zeros((tf.shape(x)[0], 1001))}

        cfg = DecoderConfig(vocab_size=len(vocab), embed_dim=512, lstm_units=512, attention_units=512,
                            feature_dim=512, grid=(14, 14))
        return captioner_from_keras(enc, build_decoder(cfg), vocab, design, input_size=224), 3
    if design == "tf-tutorial":
        inc = keras.applications.InceptionV3(weights=None, include_top=False, input_shape=(299, 299, 3))
        fc = keras.layers.Dense(256, activation="relu")  # the tutorial's CNN_Encoder
        fc.build((None, 8, 8, 2048))  # its weights made here, not inside the traced function

        def enc(x, training=False):
            f = fc(inc(keras.applications.inception_v3.preprocess_input(x), training=False))
            return {"features": f, "logits": tf.zeros((tf.shape(x)[0], 1001))}

        cfg = DecoderConfig(vocab_size=len(vocab), embed_dim=256, lstm_units=512, attention_units=512,
                            feature_dim=256, grid=(8, 8), dropout=0.0)

        class GRUAttentionDecoder(AttentionDecoder):
            """The tutorial's decoder: Bahdanau attention, GRU, no gating scalar or deep output."""

            def __init__(self, config, **kw):
                super().__init__(config, **kw)
                self.gru = keras.layers.GRUCell(config.lstm_units)
                self.fc1 = keras.layers.Dense(config.lstm_units)

            def step(self, tokens, h, c, feats, proj, training=False):
                e = self.att_score(tf.tanh(proj + self.att_hidden(h)[:, None, :]))[..., 0]
                alpha = tf.nn.softmax(e, axis=-1)
                z = tf.reduce_sum(alpha[..., None] * feats, axis=1)
                out, (h,) = self.gru(tf.concat([z, self.embedding(tokens)], -1), [h])
                return self.out_logits(self.fc1(out)), h, c, alpha

        dec = GRUAttentionDecoder(cfg)
        dec((tf.zeros((1, 64, 256)), tf.zeros((1, 1), tf.int32)))
        return captioner_from_keras(enc, dec, vocab, design, input_size=299, kernel=_TfKernel(dec)), 1
    raise SystemExit(f"unknown design {design}")


class _TfKernel:
    """Runs a Keras decoder's own step as tf.functions (the tutorial's GRU has no NumPy kernel)."""

    class Context:
        def __init__(self, nf, proj, h0, c0):
            self.nf, self.proj, self.h0, self.c0 = nf, proj, h0, c0
            self.per_row = (0, None, None)  # (beams, nf and proj repeated per row), made once

        def rows(self, beams):
            import numpy as np
            import tensorflow as tf

            if self.per_row[0] != beams:
                rows = np.repeat(np.arange(self.nf.shape[0]), beams)
                self.per_row = (beams, tf.gather(self.nf, rows), tf.gather(self.proj, rows))
            return self.per_row[1:]

        def select(self, photos):
            import tensorflow as tf

            return _TfKernel.Context(tf.gather(self.nf, photos), tf.gather(self.proj, photos),
                                     self.h0[photos], self.c0[photos])

    def __init__(self, decoder):
        import tensorflow as tf

        self._prepare = tf.function(decoder.prepare, autograph=False, reduce_retracing=True)
        self._step = tf.function(decoder.step, autograph=False, reduce_retracing=True)

    def prepare(self, feats):
        import tensorflow as tf

        nf, proj, h, c = self._prepare(tf.constant(feats))
        return self.Context(nf, proj, h.numpy(), c.numpy())

    def step(self, ctx, tokens, h, c):
        import tensorflow as tf

        nf, proj = ctx.rows(len(tokens) // ctx.nf.shape[0])
        logits, h, c, alpha = self._step(tf.constant(tokens, tf.int32), tf.constant(h), tf.constant(c),
                                         nf, proj)
        return tf.nn.log_softmax(logits).numpy(), h.numpy(), c.numpy(), alpha.numpy()


# -- one design on one photo set (in its own process) ----------------------------------------
class _Split:
    """Times the parts of a one-photo run by wrapping them (the pipeline's loader, the
    captioner's encoder and beam search, the hashtag step); adds microseconds."""

    PARTS = ("decode", "detect", "encoder", "decoder", "tags")

    def __init__(self, pipe, cap):
        import desktop_app.pipeline as pipeline_module

        self.t = dict.fromkeys(self.PARTS, 0.0)
        self._undo = []
        self._wrap(pipeline_module, "_load", "decode")
        self._wrap(cap.encoder, "encode", "encoder")
        self._wrap(cap, "caption_features", "decoder")
        self._wrap(pipe, "candidates", "tags")
        self._wrap(pipe, "rank", "tags")
        for det in pipe.detectors:
            self._wrap(det, "detect_batch", "detect")

    def _wrap(self, obj, name, part):
        orig = getattr(obj, name)
        own = name in vars(obj)

        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return orig(*a, **kw)
            finally:
                self.t[part] += time.perf_counter() - t

        setattr(obj, name, timed)
        self._undo.append((obj, name, orig if own else None))

    def reset(self) -> dict[str, float]:
        out, self.t = self.t, dict.fromkeys(self.PARTS, 0.0)
        return out

    def close(self) -> None:
        for obj, name, orig in reversed(self._undo):
            if orig is None:
                delattr(obj, name)
            else:
                setattr(obj, name, orig)


class _Others:
    """CPU the rest of the machine used meanwhile, in cores: busy time in /proc/stat less this
    process's own (and `children_cpu_s` given at stop). Linux only; None elsewhere."""

    HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    @staticmethod
    def _busy_s() -> float | None:
        try:
            with open("/proc/stat") as fh:
                f = [int(x) for x in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / _Others.HZ  # user nice system irq softirq steal

    def __init__(self):
        t = os.times()
        self.busy, self.own, self.wall = self._busy_s(), t.user + t.system, time.perf_counter()

    def stop(self, children_cpu_s: float = 0.0) -> float | None:
        busy, wall = self._busy_s(), time.perf_counter() - self.wall
        if busy is None or self.busy is None or wall <= 0:
            return None
        t = os.times()
        own_cpu_s = t.user + t.system - self.own + children_cpu_s
        return max(0.0, (busy - self.busy - own_cpu_s) / wall)


def measure(design: str, photo_set: str, photos: list[Path], single: int, passes: int) -> dict:
    from desktop_app.pipeline import Pipeline, TagOptions

    t0 = time.perf_counter()
    cap, beam = _build(design)
    load_s = time.perf_counter() - t0
    pipe = Pipeline(use_library=False, captioner=cap, options=TagOptions(beam=beam, batch_size=BATCH),
                    detectors=False if design in NO_DETECTORS else None)

    def run(paths) -> int:
        res = list(pipe.tag_paths(paths))
        bad = [r for r in res if not r.ok]
        if bad:
            raise SystemExit(f"{design}: {bad[0].path}: {bad[0].error}")
        return len(res)

    # Warm up: the first photo loads the tag detector; a batch traces the batched shapes.
    run(photos[:1])
    run(photos[: BATCH if design in SHIPPED else 4])

    lat, parts = [], []
    others = _Others()
    split = _Split(pipe, cap)
    try:
        for p in photos[:single]:
            t = time.perf_counter()
            run([p])
            lat.append(time.perf_counter() - t)
            parts.append(split.reset())
    finally:
        split.close()
    others_single = others.stop()

    rates = []
    others = _Others()
    for _ in range(max(1, passes)):
        t = time.perf_counter()
        n = run(photos)
        rates.append(n / (time.perf_counter() - t))
    others_batch = others.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    ms = {k: 1000 * statistics.median(x[k] for x in parts) for k in _Split.PARTS}
    return {"design": design, "set": photo_set, "device": cap.device, "beam": beam, "load_s": load_s,
            "latency_ms": 1000 * statistics.median(lat),
            "latency_p90_ms": 1000 * sorted(lat)[int(0.9 * (len(lat) - 1))],
            "split_ms": ms, "single_runs": len(lat),
            "photos_per_s": statistics.median(rates), "photos_per_s_passes": rates,
            "photos": len(photos), "peak_rss_mb": rss,
            "others_cores": {"single": others_single, "batched": others_batch}}


def _measure_row(design: str, photo_set: str, env: dict[str, str]) -> dict:
    """measure() in a new process (this script with --one), so its load time and RSS are its own."""
    cmd = [sys.executable, "-m", "bench.captioner_speed", *sys.argv[1:], "--one", f"{design}:{photo_set}"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{design} on {photo_set} failed:\n{out.stderr[-3000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"measured {design} on {photo_set}: {r['latency_ms']:.0f} ms, {r['photos_per_s']:.1f}/s, "
          f"others {_others(r):.2f} cores", file=sys.stderr)
    return r


def _others(r: dict) -> float:
    """The most CPU the rest of the machine took during a row's figures, in cores."""
    vals = [v for v in (r.get("others_cores") or {}).values() if v is not None]
    return max(vals) if vals else 0.0


# -- cold start -------------------------------------------------------------------------------
def _hashlens_cmd() -> list[str]:
    """What the `hashlens` console script runs, from this tree (run with cwd=ROOT)."""
    return [sys.executable, "-c", "import sys; from desktop_app.cli import main; sys.exit(main())"]


def _least_disturbed(once, keep: int, retries: int, max_other: float, others) -> tuple[list, int]:
    """Calls `once()` until `keep` of its results were undisturbed (the rest of the machine took
    at most `max_other` cores, `others(result)`), at most keep * (1 + retries) times; returns the
    `keep` least disturbed results and how many calls were made."""
    done = []
    while len(done) < keep * (1 + retries):
        done.append(once())
        if sum(others(r) <= max_other for r in done) >= keep:
            break
    return sorted(done, key=others)[:keep], len(done)


def cold_start(runtime: str, photo: Path, runs: int, home: Path, max_other: float, retries: int) -> dict:
    """Median wall time and peak RSS of `hashlens tag --no-library PHOTO`, a new process each
    run; a run during which the rest of the machine took over `max_other` cores is done again
    (at most `retries` extra runs per kept run), and the least disturbed `runs` are kept."""
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    env = {**os.environ, "HASHLENS_HOME": str(home), "HASHLENS_RUNTIME": runtime, "TF_CPP_MIN_LOG_LEVEL": "2"}

    def once() -> tuple[float, float, float]:  # (others, wall, mb)
        cmd = [*_hashlens_cmd(), "tag", "--no-library", str(photo)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            if timer:
                cmd = [timer, "-f", "%e %M %U %S", "-o", tf.name, *cmd]
            meter = _Others()
            t = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            child_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            others = meter.stop(children_cpu_s=child_cpu)
            if out.returncode != 0:
                raise SystemExit(f"hashlens tag ({runtime}) failed:\n{out.stderr[-2000:]}")
            if timer:
                e, m = tf.read().split()[-4:-2]
                wall, mb = float(e), int(m) / 1024
            else:  # children's peak: the largest child so far, so measure the larger runtime last
                mb = after.ru_maxrss / 1024
        return others or 0.0, wall, mb

    once()  # unmeasured: it fills the OS file cache
    kept, done = _least_disturbed(once, runs, retries, max_other, lambda x: x[0])
    walls, rss = [w for _, w, _ in kept], [m for _, _, m in kept]
    return {"runtime": runtime, "wall_s": statistics.median(walls), "peak_rss_mb": statistics.median(rss),
            "wall_s_runs": walls, "peak_rss_mb_runs": rss, "others_cores_runs": [o for o, _, _ in kept],
            "runs_done": done, "photo": str(photo), "timer": "/usr/bin/time" if timer else "getrusage"}


# -- the report -------------------------------------------------------------------------------
def _print_report(rows: list[dict], cold: list[dict], max_other: float) -> None:
    if rows:
        print(f"{'design':<12} {'photos':<9} {'beam':>4} {'load s':>6} {'1 photo ms':>10} {'p90 ms':>6} "
              f"{'decode/det/enc/dec/tags ms':>26} {'photos/s':>8} {'peak RSS MB':>11} {'others':>6}")
    for r in rows:
        s = r["split_ms"]
        split = f"{s['decode']:.0f}/{s.get('detect', 0):.0f}/{s['encoder']:.0f}/{s['decoder']:.0f}/{s['tags']:.0f}"
        print(f"{r['design']:<12} {r['set']:<9} {r['beam']:>4} {r['load_s']:>6.1f} {r['latency_ms']:>10.0f} "
              f"{r['latency_p90_ms']:>6.0f} {split:>26} {r['photos_per_s']:>8.1f} {r['peak_rss_mb']:>11.0f} "
              f"{_others(r):>6.2f}{' disturbed' if _others(r) > max_other else ''}")
    for c in cold:
        name = next(d for d, runtime in SHIPPED.items() if runtime == c["runtime"])
        print(f"cold start {name:<12} (hashlens tag, one 12 MP photo, {c['runtime']}): {c['wall_s']:.2f} s, "
              f"peak RSS {c['peak_rss_mb']:.0f} MB  (runs kept: "
              f"{', '.join(f'{w:.2f}' for w in c['wall_s_runs'])} s; others "
              f"{', '.join(f'{o:.2f}' for o in c['others_cores_runs'])} cores; {c['runs_done']} runs done)")
    print(f"(others: cores the rest of the machine used while the row was measured; over {max_other} is "
          "'disturbed'. Rows: the least disturbed of their tries.)")

    by = {(r["design"], r["set"]): r for r in rows}
    for photo_set in SETS:
        ours = by.get(("hashlens", photo_set))
        if not ours:
            continue
        for d in DESIGNS[1:]:
            r = by.get((d, photo_set)) if d not in NO_DETECTORS else None
            if r:
                print(f"hashlens vs {d} ({photo_set}): {r['latency_ms'] / ours['latency_ms']:.1f}x faster for one "
                      f"photo, {ours['photos_per_s'] / r['photos_per_s']:.1f}x the throughput, "
                      f"{r['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x less memory, "
                      f"{r['load_s'] / ours['load_s']:.1f}x faster to load")
    cl = {c["runtime"]: c for c in cold}
    if "litert" in cl and "tensorflow" in cl:
        a, b = cl["litert"], cl["tensorflow"]
        print(f"hashlens vs hashlens-tf (cold start): {b['wall_s'] / a['wall_s']:.1f}x faster, "
              f"{b['peak_rss_mb'] / a['peak_rss_mb']:.1f}x less memory")

    goals = []

    def goal(text, value, ok):
        goals.append(f"{text}: {value} {'ok' if ok else 'MISSED'}")

    if ph := by.get(("hashlens", "phone12mp")):
        goal(f"one 12 MP photo <= {GOALS['phone_ms']:.0f} ms", f"{ph['latency_ms']:.0f} ms",
             ph["latency_ms"] <= GOALS["phone_ms"])
        goal(f"batched 12 MP >= {GOALS['phone_per_s']:.0f}/s", f"{ph['photos_per_s']:.1f}",
             ph["photos_per_s"] >= GOALS["phone_per_s"])
    if fl := by.get(("hashlens", "flickr8k")):
        goal(f"Flickr8k-size >= {GOALS['flickr_per_s']:.0f}/s", f"{fl['photos_per_s']:.1f}",
             fl["photos_per_s"] >= GOALS["flickr_per_s"])
    if c := cl.get("litert"):
        goal(f"cold start <= {GOALS['cold_s']} s and <= {GOALS['cold_mb']:.0f} MB",
             f"{c['wall_s']:.2f} s, {c['peak_rss_mb']:.0f} MB",
             c["wall_s"] <= GOALS["cold_s"] and c["peak_rss_mb"] <= GOALS["cold_mb"])
    for photo_set in SETS:
        on, off = by.get(("hashlens", photo_set)), by.get(("hashlens-nodet", photo_set))
        if on and off:
            added = 1000 / on["photos_per_s"] - 1000 / off["photos_per_s"]
            goal(f"detectors add <= {DETECTOR_GOAL_MS:.0f} ms a photo, batched ({photo_set})",
                 f"{added:.1f} ms", added <= DETECTOR_GOAL_MS)
    if goals:
        print("goals (hashlens, 2 CPU cores): " + "; ".join(goals))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="the Flickr8k folder")
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--sets", default=",".join(SETS))
    full = {"n": 200, "n_phone": 32, "single": 30, "passes": 3, "peer_n": 32, "peer_single": 8,
            "peer_passes": 1, "cold": 5, "retries": 2, "peer_retries": 1}
    quick = {**full, "n": 48, "n_phone": 16, "single": 10, "passes": 1, "peer_n": 8, "peer_single": 3,
             "cold": 2, "retries": 1, "peer_retries": 0}
    helps = {"n": "Flickr8k photos for throughput (shipped designs)",
             "n_phone": "12 MP photos for throughput (shipped designs)",
             "single": "one-photo runs for the median (shipped designs)",
             "passes": "throughput passes, median (shipped designs)",
             "peer_n": "photos for the peers' throughput (either set)",
             "peer_single": "one-photo runs for the peers", "peer_passes": "throughput passes for the peers",
             "cold": "cold-start runs per runtime (0: none)",
             "retries": "extra tries of a shipped design's row (or of a cold-start run) that --max-other "
                        "says was disturbed; the least disturbed try is kept",
             "peer_retries": "the same for the peers' rows"}
    for k, h in helps.items():
        ap.add_argument("--" + k.replace("_", "-"), type=int, help=f"{h} (default {full[k]}, --quick {quick[k]})")
    ap.add_argument("--max-other", type=float, default=0.25,
                    help="a figure is disturbed when the rest of the machine took more than this many "
                         "cores meanwhile (default 0.25)")
    ap.add_argument("--quick", action="store_true", help="fewer photos and runs: under 3 minutes")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()
    for k, v in (quick if a.quick else full).items():  # what was given explicitly wins
        if getattr(a, k) is None:
            setattr(a, k, v)
    designs = [d for d in a.designs.split(",") if d]
    sets = [s for s in a.sets.split(",") if s]
    for x, known in ((designs, DESIGNS), (sets, SETS)):
        if unknown := [v for v in x if v not in known]:
            raise SystemExit(f"unknown {', '.join(unknown)}: choose from {', '.join(known)}")

    def sizes(design, photo_set):
        if design in SHIPPED:
            return (a.n if photo_set == "flickr8k" else a.n_phone), a.single, a.passes
        return a.peer_n, a.peer_single, a.peer_passes

    if a.one:
        design, photo_set = a.one.split(":")
        n, single, passes = sizes(design, photo_set)
        print(json.dumps(measure(design, photo_set, _photos(photo_set, n, a.photos), single, passes)))
        return

    if "phone12mp" in sets or a.cold:
        _photos("phone12mp", max(a.n_phone, a.peer_n), a.photos)  # made once, before any timing
    rows, cold = [], []
    with tempfile.TemporaryDirectory(prefix="hashlens-bench-") as home:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "HASHLENS_HOME": home}
        for photo_set in sets:
            for d in designs:
                retries = a.retries if d in SHIPPED else a.peer_retries
                (r,), tries = _least_disturbed(functools.partial(_measure_row, d, photo_set, env), 1, retries,
                                               a.max_other, _others)
                rows.append({**r, "tries": tries})
        if a.cold:
            photo = _photos("phone12mp", 1, a.photos)[0]
            for runtime in dict.fromkeys(SHIPPED.values()):  # each runtime once
                cold.append(cold_start(runtime, photo, a.cold, Path(home), a.max_other, a.retries))
                print(f"measured cold start ({runtime})", file=sys.stderr)
    _print_report(rows, cold, a.max_other)
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "cold_start": cold, "goals": GOALS,
                                      "cpus": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
