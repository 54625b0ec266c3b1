"""The SQLite outbox: order, acknowledgement, persistence, size cap."""

from __future__ import annotations

import logging

import pytest

from plategate.errors import StorageError
from plategate.mqtt.outbox import MessageKind, Outbox


@pytest.fixture
def box(tmp_path):
    b = Outbox(tmp_path / "outbox.db", max_bytes=10_000)
    yield b
    b.close()


def test_order_ack_and_persistence(tmp_path, box):
    seqs = box.put([(f"e{i}", MessageKind.EVENT, "t/event", f"payload {i}".encode()) for i in range(5)])
    assert seqs == sorted(seqs) and box.depth() == 5
    assert [m.msg_id for m in box.pending(0, 3)] == ["e0", "e1", "e2"]
    assert [m.msg_id for m in box.pending(seqs[2], 10)] == ["e3", "e4"]
    box.ack([seqs[0], seqs[2], 999_999])  # an unknown seq is ignored
    assert box.depth() == 3
    box.close()
    again = Outbox(tmp_path / "outbox.db")
    assert [m.msg_id for m in again.pending()] == ["e1", "e3", "e4"]
    assert again.size_bytes() == sum(len(m.payload) for m in again.pending())
    again.close()


def test_cap_drops_snapshots_first_then_events_loudly(box, caplog):
    box.put([("e0", MessageKind.EVENT, "t/event", b"x" * 1000), ("e0", MessageKind.SNAPSHOT, "t/event/e0/snapshot", b"j" * 4000)])
    box.put([("e1", MessageKind.EVENT, "t/event", b"x" * 1000), ("e1", MessageKind.SNAPSHOT, "t/event/e1/snapshot", b"j" * 4000)])
    with caplog.at_level(logging.WARNING):
        box.put([("e2", MessageKind.EVENT, "t/event", b"x" * 1000)])
    kinds = [(m.msg_id, m.kind) for m in box.pending()]
    assert ("e0", MessageKind.SNAPSHOT) not in kinds and ("e1", MessageKind.SNAPSHOT) in kinds
    assert [k for k in kinds if k[1] is MessageKind.EVENT] == [("e0", "event"), ("e1", "event"), ("e2", "event")]
    assert box.dropped_snapshots == 1 and box.dropped_events == 0
    assert box.size_bytes() <= box.max_bytes
    with caplog.at_level(logging.ERROR):
        box.put([("big", MessageKind.EVENT, "t/event", b"x" * 9000)])
    assert box.dropped_events >= 1 and "dropped event e0" in caplog.text
    assert box.size_bytes() <= box.max_bytes


def test_unwritable_outbox_is_a_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="cannot open outbox"):
        Outbox(blocker / "outbox.db")
