"""The capture loop and the recognition worker.

The capture thread never waits for recognition: it runs motion detection on every
lores frame and, when motion (or a loop detector, or a command) triggers, hands a
burst of full frames to a bounded queue; a frame that does not fit is dropped and
counted. The recognition worker reads each frame, votes over the burst so far and
reports a :class:`BurstResult` as soon as the vote is confident or the burst ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .camera import CameraSupervisor
from .config import MotionConfig, Roi
from .motion import MotionDetector
from .types import PlateRead
from .vision.voting import vote

logger = logging.getLogger(__name__)

STALE_BURST_S = 3.0


class Heartbeats:
    """Last-beat times of the pipeline's threads, for the systemd watchdog."""

    def __init__(self) -> None:
        self._beats: dict[str, float] = {}
        self._lock = threading.Lock()

    def beat(self, name: str) -> None:
        with self._lock:
            self._beats[name] = time.monotonic()

    def forget(self, name: str) -> None:
        with self._lock:
            self._beats.pop(name, None)

    def stale(self, max_age_s: float) -> list[str]:
        """Names whose last beat is older than *max_age_s*."""
        now = time.monotonic()
        with self._lock:
            return [n for n, t in self._beats.items() if now - t > max_age_s]


@dataclass
class PipelineStats:
    """Counters reported in status."""

    frames: int = 0
    triggers: int = 0
    bursts: int = 0
    frames_recognised: int = 0
    frames_dropped: int = 0
    bursts_without_plate: int = 0
    last_trigger: float | None = None


@dataclass
class BurstFrame:
    """One full frame of a burst on its way to recognition."""

    burst_id: int
    seq: int
    total: int
    frame: np.ndarray
    trigger_time: float
    source: str


@dataclass
class BurstResult:
    """The outcome of one burst: a voted read (or none) and the evidence."""

    burst_id: int
    source: str
    read: PlateRead | None
    reads: list[PlateRead]
    frames_used: int
    trigger_time: float
    decided_time: float
    crop: np.ndarray | None = field(default=None, repr=False)
    frame: np.ndarray | None = field(default=None, repr=False)
    timing_ms: dict = field(default_factory=dict)

    @property
    def latency_ms(self) -> float:
        return (self.decided_time - self.trigger_time) * 1000.0


class CaptureLoop(threading.Thread):
    """Reads the camera, detects motion, and queues bursts of full frames.

    Args:
        camera: a supervised camera (never raises; reopens by itself).
        motion_cfg: ``[motion]`` (ROI, thresholds, burst size and spacing).
        frames_out: bounded queue to the recognition worker.
        heartbeats: where the loop beats on every iteration.
        stats: shared counters.
        on_end: called once when a finite source (replay) has ended.
    """

    def __init__(self, camera: CameraSupervisor, motion_cfg: MotionConfig, frames_out: queue.Queue,
                 heartbeats: Heartbeats, stats: PipelineStats, on_end: Callable[[], None] | None = None) -> None:
        super().__init__(name="capture", daemon=True)
        self.camera = camera
        self.cfg = motion_cfg
        self.motion = MotionDetector(motion_cfg)
        self.frames_out = frames_out
        self.heartbeats = heartbeats
        self.stats = stats
        self.on_end = on_end
        self._stopping = threading.Event()
        self._pending: str | None = None
        self._burst: dict | None = None
        self._burst_id = 0
        self.latest = None

    def request_trigger(self, source: str) -> None:
        """Capture a burst at the next frame (loop detector, remote command)."""
        self._pending = source

    def stop(self) -> None:
        self._stopping.set()
        self.camera.interrupt()

    def run(self) -> None:
        while not self._stopping.is_set():
            self.heartbeats.beat(self.name)
            pair = self.camera.grab(max_wait=0.5)
            if pair is None:
                if self.camera.ended:
                    logger.info("capture: camera source ended")
                    if self.on_end is not None:
                        self.on_end()
                    break
                continue
            self.stats.frames += 1
            self.latest = pair  # for the live view; a reference, the frame is not copied
            if self._burst is not None:
                self._continue_burst(pair)
                continue
            triggered_by = None
            if self._pending is not None:
                triggered_by, self._pending = self._pending, None
            if self.cfg.enabled:
                result = self.motion.update(pair.lores, pair.time)
                if result.triggered and triggered_by is None:
                    triggered_by = "motion"
                    logger.debug("motion: %.1f%% of the ROI changed", result.changed * 100)
            if triggered_by is not None:
                self._start_burst(pair, triggered_by)
        self.heartbeats.forget(self.name)

    def _start_burst(self, pair, source: str) -> None:
        self._burst_id += 1
        self.stats.triggers += 1
        self.stats.bursts += 1
        self.stats.last_trigger = time.time()
        self._burst = {"id": self._burst_id, "next_seq": 0, "trigger": pair.time, "source": source, "due": pair.time}
        logger.info("burst %d triggered by %s", self._burst_id, source)
        self._continue_burst(pair)

    def _continue_burst(self, pair) -> None:
        burst = self._burst
        if pair.time + 1e-3 < burst["due"]:
            return
        item = BurstFrame(burst["id"], burst["next_seq"], self.cfg.burst_frames, pair.main(),
                          burst["trigger"], burst["source"])
        try:
            self.frames_out.put_nowait(item)
        except queue.Full:
            self.stats.frames_dropped += 1
            logger.warning("recognition queue full: burst %d frame %d dropped", item.burst_id, item.seq)
        burst["next_seq"] += 1
        burst["due"] = pair.time + self.cfg.burst_interval_ms / 1000.0
        if burst["next_seq"] >= self.cfg.burst_frames:
            self._burst = None


def roi_tuple(roi: Roi) -> tuple[float, float, float, float] | None:
    """The recognizer's ROI argument, or ``None`` for the whole frame."""
    t = (roi.x1, roi.y1, roi.x2, roi.y2)
    return None if t == (0.0, 0.0, 1.0, 1.0) else t


class RecognitionWorker(threading.Thread):
    """Recognises queued burst frames and reports one :class:`BurstResult` per burst.

    Args:
        recognizer: object with ``recognize(frame, roi=None)`` returning a result with
            ``plates`` (best first), ``crops`` and ``timing_ms`` (plategate.vision.recognizer).
        frames_in: the queue filled by :class:`CaptureLoop`.
        on_result: called with each :class:`BurstResult` (in this thread).
        vote_confidence: decide before the burst ends once the vote reaches this.
        roi: fractional ROI passed to the recognizer.
        ready: ``fn(reads, voted) -> bool``: whether a confident vote may be reported
            before the burst ends (the lane waits for the direction of travel); None: always.
    """

    def __init__(self, recognizer, frames_in: queue.Queue, on_result: Callable[[BurstResult], None],
                 heartbeats: Heartbeats, stats: PipelineStats, vote_confidence: float = 0.9,
                 roi: tuple[float, float, float, float] | None = None,
                 ready: Callable[[list[PlateRead], PlateRead], bool] | None = None) -> None:
        super().__init__(name="recognition", daemon=True)
        self.ready = ready
        self.recognizer = recognizer
        self.frames_in = frames_in
        self.on_result = on_result
        self.heartbeats = heartbeats
        self.stats = stats
        self.vote_confidence = vote_confidence
        self.roi = roi
        self.last_analysed: tuple | None = None  # (time, frame, [(text, confidence, box)]) for the live view
        self._stopping = threading.Event()
        self._current: dict | None = None
        self._decided: set[int] = set()

    def stop(self) -> None:
        self._stopping.set()

    def idle(self) -> bool:
        """True when nothing is queued or being recognised."""
        return self.frames_in.empty() and self._current is None

    def run(self) -> None:
        while not self._stopping.is_set():
            self.heartbeats.beat(self.name)
            try:
                item: BurstFrame = self.frames_in.get(timeout=0.25)
            except queue.Empty:
                cur = self._current
                if cur is not None and time.monotonic() - cur["item"].trigger_time > STALE_BURST_S:
                    self._emit(cur, time.monotonic())  # its last frames were dropped
                continue
            try:
                self._process(item)
            except Exception:  # one bad frame must not end recognition
                logger.exception("recognition failed on burst %d frame %d", item.burst_id, item.seq)
                self._finish_if_last(item)
        self.heartbeats.forget(self.name)

    def _process(self, item: BurstFrame) -> None:
        if item.burst_id in self._decided:
            return  # already decided early: skip the rest of the burst
        cur = self._current
        if cur is None or cur["id"] != item.burst_id:
            if cur is not None:  # the previous burst lost its last frames (dropped): close it
                self._emit(cur, time.monotonic())
            cur = self._current = {"id": item.burst_id, "item": item, "reads": [], "crops": {}, "frames": 0,
                                   "frame": None, "timing": {}, "voted": None}
        result = self.recognizer.recognize(item.frame, roi=self.roi)
        self.stats.frames_recognised += 1
        self.last_analysed = (time.time(), item.frame, [(p.text, p.confidence, p.box) for p in result.plates])
        cur["frames"] += 1
        for key, value in (result.timing_ms or {}).items():
            cur["timing"][key] = round(cur["timing"].get(key, 0.0) + value, 2)
        if result.plates:
            best = result.plates[0]
            cur["reads"].append(best)
            cur["crops"][best.text] = result.crops[0] if result.crops else None
            if cur["frame"] is None or best.confidence >= max(r.confidence for r in cur["reads"]):
                cur["frame"] = item.frame
        voted = cur["voted"] = vote(cur["reads"])
        if voted is not None and voted.confidence >= self.vote_confidence and (
                self.ready is None or self.ready(cur["reads"], voted)):
            self._emit(cur, time.monotonic())
            return
        self._finish_if_last(item)

    def _finish_if_last(self, item: BurstFrame) -> None:
        cur = self._current
        if cur is not None and cur["id"] == item.burst_id and item.seq >= item.total - 1:
            self._emit(cur, time.monotonic())

    def _emit(self, cur: dict, now: float) -> None:
        self._current = None
        self._decided.add(cur["id"])
        if len(self._decided) > 64:
            self._decided = {i for i in self._decided if i > cur["id"] - 32}
        item: BurstFrame = cur["item"]
        voted: PlateRead | None = cur["voted"]
        crop = cur["crops"].get(voted.text) if voted else None
        if crop is None and voted is not None and cur["crops"]:
            crop = next(iter(cur["crops"].values()))
        if voted is None:
            self.stats.bursts_without_plate += 1
        result = BurstResult(cur["id"], item.source, voted, list(cur["reads"]), cur["frames"], item.trigger_time,
                             now, crop, cur["frame"] if cur["frame"] is not None else item.frame, cur["timing"])
        try:
            self.on_result(result)
        except Exception:
            logger.exception("handling the result of burst %d failed", cur["id"])
