"""The inference layer: a .tflite model run by LiteRT (PyPI `ai-edge-litert`).

`LiteModel.run(name=array, ...)` takes and returns arrays by the names the conversion gave the
model's signature (build_scripts/convert_tflite.py), with any batch size: the input tensors
are resized when the batch size changes. One interpreter is not safe to share between threads,
so calls are serialised.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .threads import cpu_threads

DISTRIBUTION = "ai-edge-litert"


@lru_cache(maxsize=1)
def litert_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a frozen bundle may not carry the metadata
        return "unknown"


_announced = threading.Event()


@contextlib.contextmanager
def _quiet_native_stderr():
    """LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." to the process's
    stderr (fd 2) once, when the first model first runs, and has no switch for it: hide that
    line, which would otherwise open every `hashlens tag` run. Only the process's first run is
    wrapped (for those milliseconds anything else written to fd 2 is hidden too; the log file
    is not affected)."""
    if _announced.is_set():
        yield
        return
    _announced.set()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (a windowed app)
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def litert_device(num_threads: int | None = None) -> str:
    """What runs the models, for the status bar and `hashlens --version`."""
    return f"LiteRT {litert_version()} · CPU, {num_threads or cpu_threads()} threads"


class LiteModel:
    """One .tflite file, loaded once. `run` is thread-safe (calls take turns)."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.num_threads = num_threads or cpu_threads()
        if not self.path.is_file():
            raise ModelFileError(f"cannot read the model {self.path}: no such file")
        try:
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=self.num_threads)
            self._runner = self._interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{self.path} is not a model LiteRT can run ({exc})") from None
        details = self._runner.get_input_details()
        self.inputs = {k: (tuple(int(x) for x in v["shape_signature"]), np.dtype(v["dtype"]))
                       for k, v in details.items()}
        self._lock = threading.Lock()

    @property
    def device(self) -> str:
        return litert_device(self.num_threads)

    def run(self, **arrays: np.ndarray) -> dict[str, np.ndarray]:
        """Inputs by name -> outputs by name (LiteRT returns copies, safe to keep)."""
        if set(arrays) != set(self.inputs):
            raise ValueError(f"{self.path.name} takes {sorted(self.inputs)}, got {sorted(arrays)}")
        feed = {}
        for name, value in arrays.items():
            shape, dtype = self.inputs[name]
            a = np.ascontiguousarray(value, dtype=dtype)
            if a.ndim != len(shape) or any(s not in (-1, d) for s, d in zip(shape, a.shape, strict=True)):
                raise ValueError(f"{self.path.name}: input {name} has shape {a.shape}, expected {shape}")
            feed[name] = a
        with self._lock, _quiet_native_stderr():
            return self._runner(**feed)
