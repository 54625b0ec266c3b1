"""tools.train.tf_threads keeps TensorFlow's thread settings once it is initialised, instead of failing."""

from __future__ import annotations

import logging

import pytest

tf = pytest.importorskip("tensorflow")


def test_thread_settings_are_kept_once_tensorflow_runs(caplog):
    from tools.train.tf_threads import set_threads

    _ = tf.constant(1.0) + 1.0  # TensorFlow is initialised from here on
    with caplog.at_level(logging.WARNING, logger="tools.train.tf_threads"):
        assert set_threads(2) is False
    assert "already initialised" in caplog.text
