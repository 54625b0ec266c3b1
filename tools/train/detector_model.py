"""The detector network and its training targets (shared by tools.train.train_detector and tools.quantize exports).

Single-class CenterNet-style detector: a depthwise-separable backbone (strides 2..32)
with a feature-pyramid path back to stride 4, and three heads: a sigmoid heat map of
plate centres, the box (centre offset, log size) and the four corner offsets.
"""

from __future__ import annotations

import numpy as np

from plategate.vision.detector import REG_CHANNELS, STRIDE

INPUT_W, INPUT_H = 640, 352
PATCH = 256
WIDTHS = (16, 32, 64, 96, 128)


def build_model(height: int = INPUT_H, width: int = INPUT_W, widths: tuple[int, ...] = WIDTHS):
    """The detector network (Keras); input ``(height, width, 1)`` in [0, 1], outputs heat map and regression."""
    import tensorflow as tf
    from tensorflow import keras

    layers = keras.layers

    class Up2(layers.Layer):
        """Nearest-neighbour x2 upsampling that converts to one RESIZE_NEAREST_NEIGHBOR op."""

        def call(self, t):
            return tf.image.resize(t, (t.shape[1] * 2, t.shape[2] * 2), method="nearest")

    def cbr(x, c, k=3, s=1):
        x = layers.Conv2D(c, k, strides=s, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU(6.0)(x)

    def dws(x, c, s=1):
        x = layers.DepthwiseConv2D(3, strides=s, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU(6.0)(x)
        return cbr(x, c, 1)

    def block(x, c, s):
        x = dws(x, c, s)
        return layers.Add()([x, dws(x, c)])

    inp = keras.Input((height, width, 1), name="image")
    x = cbr(inp, widths[0], 3, 2)
    c2 = block(x, widths[1], 2)
    c3 = block(c2, widths[2], 2)
    c4 = block(c3, widths[3], 2)
    c5 = block(c4, widths[4], 2)
    p4 = dws(layers.Add()([cbr(c4, widths[2], 1), Up2()(cbr(c5, widths[2], 1))]), widths[2])
    p3 = dws(layers.Add()([cbr(c3, widths[2], 1), Up2()(p4)]), widths[2])
    p2 = dws(layers.Add()([cbr(c2, widths[1], 1), Up2()(cbr(p3, widths[1], 1))]), widths[1])
    heat_logit = layers.Conv2D(1, 1, bias_initializer=keras.initializers.Constant(-4.0))(dws(p2, widths[1]))
    heat = layers.Activation("sigmoid", name="heatmap")(heat_logit)
    reg_features = dws(p2, widths[1])
    box = layers.Conv2D(4, 1, name="box")(reg_features)
    corners = layers.Conv2D(REG_CHANNELS - 4, 1, name="corners")(reg_features)
    return keras.Model(inp, [heat, box, corners], name="plate_detector")


def make_targets(boxes: np.ndarray, corners: np.ndarray, corner_ok: np.ndarray, size: int = PATCH) -> tuple[np.ndarray, np.ndarray]:
    """Heat map ``(g, g, 1)`` and regression target + weights ``(g, g, 12 + 2)`` for one patch."""
    g = size // STRIDE
    heat = np.zeros((g, g), np.float32)
    reg = np.zeros((g, g, REG_CHANNELS + 2), np.float32)
    owner = np.zeros((g, g), np.float32)
    ys, xs = np.mgrid[0:g, 0:g].astype(np.float32) + 0.5
    for box, cor, ok in zip(boxes, corners, corner_ok, strict=True):
        bw, bh = max(box[2] - box[0], 2.0), max(box[3] - box[1], 2.0)
        cx, cy = (box[0] + box[2]) / 2 / STRIDE, (box[1] + box[3]) / 2 / STRIDE
        sx, sy = max(0.5, bw / STRIDE / 6), max(0.5, bh / STRIDE / 6)
        gauss = np.exp(-((xs - cx) ** 2 / (2 * sx * sx) + (ys - cy) ** 2 / (2 * sy * sy)))
        ix, iy = min(g - 1, int(cx)), min(g - 1, int(cy))
        gauss[iy, ix] = 1.0
        heat = np.maximum(heat, gauss)
        near = (np.abs(xs - cx) <= 2.0) & (np.abs(ys - cy) <= 2.0)  # keeps the offsets (and int8 range) small
        cells = (gauss >= 0.4) & near & (gauss > owner)
        owner = np.where(cells, gauss, owner)
        cyy, cxx = np.nonzero(cells)
        reg[cyy, cxx, 0] = cx - (cxx + 0.5)
        reg[cyy, cxx, 1] = cy - (cyy + 0.5)
        reg[cyy, cxx, 2] = np.log(bw / STRIDE)
        reg[cyy, cxx, 3] = np.log(bh / STRIDE)
        rel = (cor - [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) / [bw, bh]
        reg[cyy, cxx, 4:12] = rel.reshape(8)
        reg[cyy, cxx, 12] = gauss[cyy, cxx]
        reg[cyy, cxx, 13] = gauss[cyy, cxx] * float(ok)
    return heat[..., None].astype(np.float32), reg.astype(np.float32)
