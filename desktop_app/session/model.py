"""The captioner as the window names it: "Captioner: Flickr8k, CPU", not a version string."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DATASETS = {"flickr8k": "Flickr8k", "flickr30k": "Flickr30k", "coco": "COCO", "mscoco": "COCO"}


@dataclass(frozen=True)
class ModelInfo:
    version: str  # "sat-mobilenet-891d33-e7-avg3"
    device: str  # "LiteRT 2.3.0 · CPU, 2 threads"
    trained_on: str = ""  # "Flickr8k"

    @property
    def label(self) -> str:
        """'Captioner: Flickr8k, CPU' for the status bar."""
        what = self.trained_on or "ready"
        return f"Captioner: {what}, {processor(self.device)}"

    @property
    def tip(self) -> str:
        tip = (f"The captioning model{' trained on ' + self.trained_on if self.trained_on else ''} "
               f"({self.version or 'unnamed'}) runs on {self.device or 'this computer'}.")
        if self.device.startswith("LiteRT"):
            tip += (" LiteRT is TensorFlow's on-device runtime: it runs the model on this computer's "
                    "processor, no GPU needed, with the same captions as TensorFlow.")
        return tip


def processor(device: str) -> str:
    """'LiteRT 2.3.0 · CPU, 2 threads' -> 'CPU'; 'TensorFlow · GPU (NVIDIA ...)' -> 'GPU'."""
    text = device.upper()
    return "GPU" if "GPU" in text else "CPU"


def trained_on(model_path: str | os.PathLike | None) -> str:
    """The data set the bundle was trained on, from its config.json ("Flickr8k"), or ""."""
    from ..paths import model_assets_dir

    folder = Path(model_path) if model_path else model_assets_dir() / "captioner"
    try:
        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        data = str((meta.get("training") or {}).get("data", ""))
    except (OSError, ValueError, AttributeError):
        return ""
    name = Path(data.rstrip("/")).name.lower() if data else ""
    if name.endswith(".json"):  # COCO's dataset_coco.json
        name = "coco"
    return DATASETS.get(name, Path(data).name if data else "")


def device_summary(captioner=None) -> str:
    """Which runtime and device run the model ("LiteRT 2.3.0 · CPU, 2 threads")."""
    return str(getattr(captioner, "device", "") or "CPU")


def load_model(pipeline) -> ModelInfo:
    """Load the captioner and warm up the tagging path (~1 s); run it in a worker. Raises what
    loading the model raises."""
    pipeline.warm_up()
    cap = pipeline.captioner
    return ModelInfo(str(getattr(cap, "version", "")), device_summary(cap),
                     trained_on(getattr(pipeline, "model_path", None)))
