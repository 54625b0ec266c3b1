"""TensorFlow's thread settings, shared by the training and conversion tools."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def set_threads(threads: int) -> bool:
    """Set TensorFlow's intra- and inter-op thread counts to *threads*.

    They can only be set before TensorFlow runs its first operation in the process;
    when it already has (e.g. an earlier test under pytest), the settings in force
    are kept and a warning is logged.

    Returns:
        True when the counts were set, False when they were kept.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        logger.warning("TensorFlow was already initialised in this process: its thread settings are kept")
        return False
    return True
