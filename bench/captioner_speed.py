"""Captioner speed and memory, against two peer designs, measured in one run.

    python -m bench.captioner_speed [--photos DIR] [--n 200]

Designs (each in its own subprocess, so peak RSS and load time are its own):
- hashlens: the shipped bundle (MobileNetV1 7x7x1024 + attention LSTM 512, beam 3);
- deeprnn: the DeepRNN/image_captioning design (VGG16 conv5_3 14x14x512 + attention LSTM 512,
  embedding 512, 5,000 words, beam 3), random weights of the same shapes;
- tf-tutorial: the TensorFlow "image captioning with visual attention" tutorial design
  (InceptionV3 at 299x299, 8x8x2048 + Bahdanau attention GRU 512, embedding 256, 5,000 words,
  greedy), random weights of the same shapes.
hashlens and deeprnn run the same batched decoding code (the NumPy decoder step), so their
difference is the architecture; the tutorial's GRU step runs as TensorFlow functions.
Figures: model load time, latency for one photo (decode + encoder + caption; median of many),
throughput on a folder of photos (batched, 32 at a time), and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import desktop_app  # noqa: F401  (first: it sets how NumPy's threads wait, as in the app)

DEFAULT_PHOTOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "flickr8k"


def _photos(folder: Path, n: int) -> list[Path]:
    test = folder / "splits" / "test.txt"
    if test.exists():
        names = test.read_text().split()[:n]
        return [folder / "images" / x for x in names]
    from desktop_app.imaging import iter_image_files

    return list(iter_image_files([folder]))[:n]


def _build(design: str):
    """-> (captioner, beam)."""
    import keras
    import tensorflow as tf

    from desktop_app.captioning import load_captioner
    from desktop_app.captioning.config import DecoderConfig
    from desktop_app.captioning.decoder import AttentionDecoder, build_decoder
    from desktop_app.captioning.inference import BundleCaptioner
    from desktop_app.captioning.vocabulary import Vocabulary

    if design == "hashlens":
        return load_captioner(None), 3
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
        return BundleCaptioner(enc, build_decoder(cfg), vocab, design), 3
    if design == "tf-tutorial":
        inc = keras.applications.InceptionV3(weights=None, include_top=False, input_shape=(299, 299, 3))
        fc = keras.layers.Dense(256, activation="relu")  # the tutorial's CNN_Encoder

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
        return BundleCaptioner(enc, dec, vocab, design, input_size=299, kernel=_TfKernel(dec)), 1
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


def measure(design: str, photos: list[Path], single_runs: int) -> dict:
    import numpy as np

    from desktop_app.imaging import load_for_model

    t0 = time.perf_counter()
    cap, beam = _build(design)
    load_s = time.perf_counter() - t0
    size = cap.input_size
    cap.caption_batch(np.stack([load_for_model(photos[0], size)[0]]), beam=beam)  # warm up
    cap.caption_batch(np.stack([load_for_model(p, size)[0] for p in photos[:32]]), beam=beam)
    lat = []
    for p in photos[:single_runs]:
        t = time.perf_counter()
        cap.caption_batch(np.stack([load_for_model(p, size)[0]]), beam=beam)
        lat.append(time.perf_counter() - t)
    t = time.perf_counter()
    n = 0
    for lo in range(0, len(photos), 32):
        batch = np.stack([load_for_model(p, size)[0] for p in photos[lo : lo + 32]])
        n += len(cap.caption_batch(batch, beam=beam))
    thr = n / (time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    return {"design": design, "beam": beam, "load_s": load_s, "latency_ms": 1000 * statistics.median(lat),
            "latency_p90_ms": 1000 * sorted(lat)[int(0.9 * (len(lat) - 1))], "photos_per_s": thr,
            "peak_rss_mb": rss, "photos": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--single", type=int, default=40, help="single-photo runs for the median")
    ap.add_argument("--designs", default="hashlens,deeprnn,tf-tutorial")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()
    photos = _photos(a.photos, a.n)
    if a.one:
        print(json.dumps(measure(a.one, photos, a.single)))
        return
    rows = []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for d in a.designs.split(","):
        out = subprocess.run([sys.executable, "-m", "bench.captioner_speed", "--photos", str(a.photos),
                              "--n", str(a.n), "--single", str(a.single), "--one", d],
                             capture_output=True, text=True, env=env, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"measured {d}", file=sys.stderr)
    print(f"{'design':<12} {'beam':>4} {'load s':>7} {'1 photo ms':>10} {'p90 ms':>7} {'photos/s':>9} {'peak RSS MB':>11}")
    for r in rows:
        print(f"{r['design']:<12} {r['beam']:>4} {r['load_s']:>7.1f} {r['latency_ms']:>10.0f} "
              f"{r['latency_p90_ms']:>7.0f} {r['photos_per_s']:>9.1f} {r['peak_rss_mb']:>11.0f}")
    ours = next((r for r in rows if r["design"] == "hashlens"), None)
    if ours:
        for r in rows:
            if r is ours:
                continue
            print(f"hashlens vs {r['design']}: {r['latency_ms'] / ours['latency_ms']:.1f}x faster for one photo, "
                  f"{ours['photos_per_s'] / r['photos_per_s']:.1f}x the throughput, "
                  f"{r['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x less memory")
        print(f"goals (2 CPU cores): one photo <= 120 ms: {ours['latency_ms']:.0f} ms; >= 20 photos/s: "
              f"{ours['photos_per_s']:.1f}; peak RSS <= 1500 MB: {ours['peak_rss_mb']:.0f} MB")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
