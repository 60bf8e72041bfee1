"""Running the shipped models: the model registry and the LiteRT inference layer.

Tagging runs every model through LiteRT (`litert.LiteModel`), TensorFlow's own on-device
runtime: a 60 MB wheel that imports in ~0.1 s, where TensorFlow takes seconds and ~500 MB.
TensorFlow stays for training, conversion and the optional GPU path
(`captioning/image_encoder.py`). Nothing here imports TensorFlow.
"""
