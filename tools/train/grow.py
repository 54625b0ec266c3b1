"""Widening a trained network without changing what it computes (shared by the detector and reader trainings)."""

from __future__ import annotations


def grow_weights(narrow, wide) -> None:
    """Copy the weights of a trained *narrow* network into the *wide* one so that it computes the same outputs.

    Both come from the same ``build_model`` (:mod:`tools.train.detector_model` or
    :mod:`tools.train.reader_model`) with the same input size; each stage of *wide* is at
    least as wide (a layer whose shape does not grow, e.g. the reader's logits, is copied).
    Every old channel keeps its weights and BatchNorm statistics; a new channel keeps its
    fresh initial weights but the convolutions that read it get zero weights from it, so it
    adds nothing until training moves those weights (Net2Net's function-preserving widening).
    Training the grown network starts where the narrow one stopped instead of from scratch.

    Raises:
        ValueError: the networks differ in layout or a stage of *wide* is narrower.
    """
    from tensorflow import keras

    if len(narrow.layers) != len(wide.layers):
        raise ValueError(f"networks of {len(narrow.layers)} and {len(wide.layers)} layers: not the same layout")
    for small, big in zip(narrow.layers, wide.layers, strict=True):
        old, new = small.get_weights(), big.get_weights()
        if type(small).__name__ != type(big).__name__ or len(old) != len(new):
            raise ValueError(f"layer {small.name} ({type(small).__name__}) does not match {big.name} ({type(big).__name__})")
        grown = []
        for a, b in zip(old, new, strict=True):
            if a.ndim != b.ndim or any(x > y for x, y in zip(a.shape, b.shape, strict=True)):
                raise ValueError(f"layer {big.name}: weights of shape {b.shape} cannot hold {a.shape}")
            b = b.copy()
            if isinstance(big, keras.layers.Conv2D) and not isinstance(big, keras.layers.DepthwiseConv2D) and b.ndim == 4:
                b[:, :, a.shape[2]:, :] = 0.0  # new input channels are not read
            b[tuple(slice(0, n) for n in a.shape)] = a
            grown.append(b)
        big.set_weights(grown)
