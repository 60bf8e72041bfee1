"""hashlens: local-first photo captions and hashtags that learn what you like.

Importing this package is cheap: Qt, LiteRT and TensorFlow (training only) are imported only by
the modules that need them (`desktop_app.captioning.*` model code and `desktop_app.ui.*`).
"""

import os

# NumPy's products in the app are small (the decoder's per-word step for a few beams, the
# library's 212x212 solves), and the cores are often busy with what matters more: LiteRT's
# encoder threads and the threads decoding the next photos. Extra OpenBLAS threads then only
# fight them and busy-wait after each product (on 2 cores a 12 MP batch ran at a fraction of the
# speed). So OpenBLAS starts on one thread, and the pipeline gives it the other cores while no
# photo is being decoded (runtime/threads.py). OpenBLAS reads these once, when NumPy is first
# imported, so they are set before anything else; a user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__version__ = "0.1.0"
