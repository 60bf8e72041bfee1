"""hashlens: local-first photo captions and hashtags that learn what you like.

Importing this package is cheap: TensorFlow and Qt are imported only by the modules that need
them (`desktop_app.captioning.*` model code and `desktop_app.ui.*`).
"""

import os

# NumPy's OpenBLAS threads busy-wait after each product, taking the cores from TensorFlow's
# encoder that runs next (one photo took 41 ms to encode instead of 28). Short spins fix it;
# OpenBLAS reads this once, when NumPy is first imported, so it is set before anything else.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__version__ = "0.1.0"
