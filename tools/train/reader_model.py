"""The reader network: a small convolution-only CTC model (TensorFlow / Keras, training only).

Only operations that LiteRT runs as int8 builtins are used (Conv2D, DepthwiseConv2D,
MaxPool2D, ReLU, Reshape; BatchNormalization folds into the convolutions). There is
no recurrent layer: the horizontal context comes from the receptive field of the
convolutions, which is wider than a character. Optional *context blocks* (dilated
depthwise convolutions along the steps, added back to their input) widen it to the
whole plate; Add is an int8 builtin too.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

#: input size of the shipped reader (grayscale)
HEIGHT, WIDTH = 32, 128
#: channel widths of the five stages (the shipped reader's; the narrower 24, 48, 64, 96, 128 read less)
CHANNELS = (24, 48, 96, 192, 256)
#: name prefix of the layers of the context blocks (see :func:`build_model`)
CONTEXT = "context"


def is_context_layer(name: str) -> bool:
    """Whether the layer named *name* belongs to a context block."""
    return name.startswith(CONTEXT)


def build_model(num_classes: int, height: int = HEIGHT, width: int = WIDTH, channels: tuple[int, ...] = CHANNELS,
                dropout: float = 0.15, light_stem: bool = False, context: int = 0):
    """Build the reader network.

    Args:
        num_classes: alphabet size + 1 (the blank).
        height: input height (a multiple of 8).
        width: input width (a multiple of 4); the model emits ``width // 4`` steps.
        channels: five stage widths.
        dropout: dropout before the classifier (training only).
        light_stem: make the second convolution depthwise-separable. It is a full 3x3
            convolution in the shipped reader and holds about a third of the model's
            multiply-adds; separable, int8 invoke took 0.69 instead of 0.81-0.84 ms
            (median, 2 threads, ``tools.eval.bench_reader --latency``).
        context: number of context blocks after the height collapse. Block ``i`` (from
            1) is a depthwise (1, 5) convolution dilated ``2 ** i`` steps, a pointwise
            convolution and a BatchNormalization whose scale starts at zero, added to
            its input: a new block starts as the identity, so a trained reader carried
            into this network (:func:`transfer_weights`) computes what it computed. Each
            block widens the horizontal receptive field by ``16 * 2 ** i`` input columns
            (from 66 without blocks to 162 with two).

    Returns:
        A ``tf.keras.Model`` mapping (B, height, width, 1) float images in [0, 1] to
        (B, width // 4, num_classes) logits.

    Raises:
        ValueError: the input size is not a multiple of the network's stride.
    """
    import tensorflow as tf

    if height % 8 or width % 4:
        raise ValueError(f"input {height}x{width} must have height % 8 == 0 and width % 4 == 0")
    layers = tf.keras.layers

    def conv(x, filters, kernel=3, separable=False):
        if separable:
            x = layers.DepthwiseConv2D(kernel, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
            x = layers.Conv2D(filters, 1, use_bias=False)(x)
        else:
            x = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    c1, c2, c3, c4, c5 = channels
    inp = layers.Input((height, width, 1), name="image")
    x = conv(inp, c1)
    x = layers.MaxPool2D(2)(x)                      # H/2, W/2
    x = conv(x, c2, separable=light_stem)
    x = layers.MaxPool2D(2)(x)                      # H/4, W/4
    x = conv(x, c3, separable=True)
    x = conv(x, c3, separable=True)
    x = layers.MaxPool2D((2, 1))(x)                 # H/8, W/4
    x = conv(x, c4, separable=True)
    x = conv(x, c4, kernel=(3, 5), separable=True)
    x = layers.Conv2D(c5, (x.shape[1], 1), padding="valid", use_bias=False)(x)  # collapse height
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for i in range(1, context + 1):
        x = _context_block(layers, x, c5, 2 ** i, f"{CONTEXT}{i}")
    x = conv(x, c5, kernel=(1, 5), separable=True)
    x = layers.Dropout(dropout)(x)
    x = layers.Conv2D(num_classes, 1, name="logits")(x)
    out = layers.Reshape((width // 4, num_classes), name="steps")(x)
    return tf.keras.Model(inp, out, name="plate_reader")


def _context_block(layers, x, filters: int, dilation: int, name: str):
    """``relu(x + bn0(pointwise(relu(bn(depthwise_dilated(x))))))``; starts as the identity (x >= 0)."""
    y = layers.DepthwiseConv2D((1, 5), padding="same", dilation_rate=(1, dilation), use_bias=False, name=f"{name}_dw")(x)
    y = layers.BatchNormalization(name=f"{name}_bn")(y)
    y = layers.ReLU(name=f"{name}_relu")(y)
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(y)
    y = layers.BatchNormalization(gamma_initializer="zeros", name=f"{name}_bn0")(y)
    x = layers.Add(name=f"{name}_add")([x, y])
    return layers.ReLU(name=f"{name}_out")(x)


def transfer_weights(source, target) -> list[str]:
    """Copy *source*'s weights into *target* wherever the two networks agree.

    Layers that hold weights are paired from the input end while their types and
    weight shapes match, then from the output end the same way; what lies between
    (e.g. a separable second convolution in place of a full one, ``light_stem``)
    keeps its fresh initialisation. This starts a differently built reader from a
    trained one instead of from scratch.

    A reader of another input height differs only in the convolution that collapses
    the height (``height // 8`` rows). When that single convolution is all that lies
    between, its kernel is resampled from the source's (:func:`resample_rows`)
    instead of left fresh, so that the taller reader starts where the source is.

    A layer of a context block pairs only with a context layer of the same name, so a
    reader without context blocks carried into one with them leaves the blocks fresh:
    they start as the identity (:func:`build_model`).

    Args:
        source: a trained ``tf.keras.Model``.
        target: the model to initialise (modified in place).

    Returns:
        The names of *target*'s layers left with their fresh weights. Layers of
        *source* with no counterpart are logged (a warning when the target has no
        fresh layer in their place, e.g. context blocks carried into a reader
        without them).

    Raises:
        ValueError: no layer pairs (the networks have nothing in common).
    """
    src = [layer for layer in source.layers if layer.weights]
    dst = [layer for layer in target.layers if layer.weights]

    def kind(layer):
        return layer.name if is_context_layer(layer.name) else type(layer)

    def same(a, b) -> bool:
        return kind(a) == kind(b) and [tuple(w.shape) for w in a.weights] == [tuple(w.shape) for w in b.weights]

    n = min(len(src), len(dst))
    head = 0
    while head < n and same(src[head], dst[head]):
        head += 1
    tail = 0
    while tail < n - head and same(src[-1 - tail], dst[-1 - tail]):
        tail += 1
    if head + tail == 0:
        raise ValueError("the source and target readers have no layer in common")
    pairs = list(zip(src[:head], dst[:head], strict=True)) + list(zip(src[len(src) - tail:], dst[len(dst) - tail:], strict=True))
    for a, b in pairs:
        b.set_weights(a.get_weights())
    middle_src, middle_dst = src[head:len(src) - tail], dst[head:len(dst) - tail]
    if len(middle_src) == len(middle_dst) == 1 and _only_rows_differ(middle_src[0], middle_dst[0]):
        kernel, layer = middle_src[0].get_weights()[0], middle_dst[0]
        rows = layer.weights[0].shape[0]
        layer.set_weights([resample_rows(kernel, rows)])
        logger.info("resampled %s from %d to %d rows", layer.name, kernel.shape[0], rows)
        middle_src, middle_dst = [], []
    fresh = [layer.name for layer in middle_dst]
    logger.info("copied %d layers from %s; fresh: %s", len(pairs), source.name, ", ".join(fresh) or "none")
    if middle_src and middle_dst:
        logger.info("%s layers with no counterpart: %s", source.name, ", ".join(layer.name for layer in middle_src))
    elif middle_src:  # the target has no place for them: what they computed is lost
        logger.warning("%s layers dropped (the target has no counterpart): %s", source.name,
                       ", ".join(layer.name for layer in middle_src))
    return fresh


def _only_rows_differ(a, b) -> bool:
    """Two bias-free convolutions whose kernels differ only in their number of rows."""
    if type(a) is not type(b) or type(a).__name__ != "Conv2D" or len(a.weights) != 1 or len(b.weights) != 1:
        return False
    return tuple(a.weights[0].shape[1:]) == tuple(b.weights[0].shape[1:])


def resample_rows(kernel, rows: int):
    """Resample a convolution *kernel* (kh, kw, cin, cout) to *rows* rows.

    Row ``r`` of the result is read, by linear interpolation, at the source position
    ``(r + 0.5) * kh / rows - 0.5`` (row centres aligned, edges clamped), and scaled by
    ``kh / rows`` so that a feature constant over an input ``rows / kh`` times as tall
    gets about the same response (exactly, from 4 rows to 6: every source row's
    weights then sum to 1). ``rows == kh`` returns a copy.

    Raises:
        ValueError: *kernel* is not 4-D or *rows* is not positive.
    """
    import numpy as np

    kernel = np.asarray(kernel)
    if kernel.ndim != 4 or rows < 1:
        raise ValueError(f"needs a 4-D kernel and rows >= 1, got shape {kernel.shape} and rows {rows}")
    kh = kernel.shape[0]
    pos = np.clip((np.arange(rows) + 0.5) * kh / rows - 0.5, 0, kh - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, kh - 1)
    frac = (pos - lo).reshape(-1, 1, 1, 1)
    out = kernel[lo] * (1 - frac) + kernel[hi] * frac
    return (out * (kh / rows)).astype(kernel.dtype)


def distillation_loss(student_logits, teacher_logits, temperature: float = 2.0):
    """Per-step knowledge-distillation loss: ``T^2 * KL(teacher || student)`` at temperature *T*.

    Both readers emit (B, steps, classes) logits over the same alphabet; the loss is
    the KL divergence of the student's softened distribution from the teacher's at
    every step, averaged over steps and batch and scaled by ``T^2`` so that its
    gradients keep their size as *T* changes. It is 0 when the logits agree.

    Raises:
        ValueError: the logits' shapes differ.
    """
    import tensorflow as tf

    if tuple(student_logits.shape[1:]) != tuple(teacher_logits.shape[1:]):
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} do not match")
    t = tf.nn.log_softmax(tf.cast(teacher_logits, tf.float32) / temperature, axis=-1)
    s = tf.nn.log_softmax(tf.cast(student_logits, tf.float32) / temperature, axis=-1)
    kl = tf.reduce_sum(tf.exp(t) * (t - s), axis=-1)
    return temperature * temperature * tf.reduce_mean(kl)
