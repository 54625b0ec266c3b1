"""The configuration of what the daemon does with frames and events: motion, recognition,
access policy, the lane's rules per direction of travel, journal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .config_base import MAX_READER_VIEWS, Fraction, PathStr, PosFloat, PosInt, Roi, Section, default_models_dir


class MotionConfig(Section):
    """Motion trigger on the lores stream."""

    enabled: bool = True
    roi: Roi = Roi()
    threshold: Annotated[int, Field(ge=1, le=255)] = 25
    min_area: Annotated[float, Field(gt=0, le=1)] = 0.01
    blur: Annotated[int, Field(ge=0, le=15)] = 1
    background_alpha: Annotated[float, Field(gt=0, le=1)] = 0.1
    cooldown_s: Annotated[float, Field(ge=0)] = 1.0
    burst_frames: Annotated[int, Field(ge=1, le=30)] = 3
    burst_interval_ms: Annotated[int, Field(ge=0)] = 80


class RecognitionConfig(Section):
    """Detector, reader and voting."""

    detector_model: PathStr | None = Field(
        None, description="default: the shipped models/detector-street.tflite (trained on street and phone photos "
                          "of many countries, dashcam frames and synthetic gate scenes)")
    reader_model: PathStr | None = Field(None, description="default: the shipped models/reader.tflite")
    threads: Annotated[int, Field(ge=1, le=8)] = 2
    roi: Roi = Roi()
    min_detection_score: Fraction = 0.5
    coarse_pass: bool = Field(True, description="also run the detector's network on the whole frame at 320x192 "
                                                "(coarse_model): finds plates too large for the full-size pass (close "
                                                "to the camera), about 1.5 ms more per frame")
    coarse_model: PathStr | None = Field(
        None, description="default: the shipped models/detector-street-coarse.tflite (the shipped detector's network "
                          "at a 320x192 input; give your own with your own detector_model, or turn coarse_pass off)")
    second_look: bool = Field(True, description="look again, closer, at boxes scoring from second_look_from up "
                                                "to min_detection_score: second_look_model on a view three plate "
                                                "widths wide around each; the plate is kept when that look scores "
                                                "second_look_min_score or more. Finds small and unusual plates the "
                                                "frame-wide pass is unsure of; about 2 ms per look")
    second_look_from: Fraction = Field(0.25, description="boxes from this score on get a second look; must be "
                                                         "below min_detection_score")
    second_look_max: Annotated[int, Field(ge=1, le=10)] = Field(2, description="the most second looks per frame, "
                                                                              "best-scored boxes first")
    second_look_model: PathStr | None = Field(
        None, description="default: the shipped models/detector-look.tflite (the shipped detector trained further "
                          "on views of its own unsure boxes, at a 320x192 input); coarse_model works too, from 0.6")
    second_look_min_score: Fraction = Field(0.5, description="a second look keeps the plate it finds from this "
                                                             "score on (or min_detection_score, if higher)")
    second_detector: bool = Field(False, description="also run a second detector and join its plates to the first's: "
                                                     "by default the lane detector (models/detector.tflite, trained on "
                                                     "dashcam frames and synthetic gate scenes), about 5 ms more per frame")
    second_detector_model: PathStr | None = Field(None, description="default: the shipped models/detector.tflite")
    second_detector_min_score: Fraction = Field(0.6, description="the second detector's plates from this score on")
    close_up: bool = Field(True, description="when a frame gives no plate, or one a quarter of its width or wider, "
                                            "search it again shrunk to 40 %: finds plates filling half the frame or "
                                            "more (a camera close to the car) whole")
    max_plates: Annotated[int, Field(ge=1, le=10)] = 3
    plate_formats: list[Annotated[str, Field(pattern=r"^[LD]{1,10}$")]] = Field(
        default_factory=list,
        description="the site's plate formats as L (letter) / D (digit) strings, e.g. [\"LLDDLLL\"] for the UK; "
                    "reads are constrained to them (empty: any text); `platectl events formats` suggests them from the "
                    "site's plates")
    reader_views: Annotated[int, Field(ge=1, le=MAX_READER_VIEWS)] = Field(
        3, description="views of each plate crop the reader reads: 1 = the crop as given (fastest); 2 or 3 = when "
                       "that read is below 0.9, also the crop padded (and trimmed), candidates pooled: more plates "
                       "read right, up to 2 or 3 times the read time on unsure crops")
    vote_confidence: Fraction = Field(0.9, description="decide before the burst ends once the vote reaches this")
    queue_size: Annotated[int, Field(ge=1, le=64)] = 4

    @model_validator(mode="after")
    def _second_look_below(self) -> RecognitionConfig:
        if self.second_look and self.second_look_from >= self.min_detection_score:
            raise ValueError(f"second_look_from: {self.second_look_from} must be below min_detection_score "
                             f"({self.min_detection_score}), or turn second_look off")
        return self

    def looks_again(self) -> bool:
        """Whether boxes get a second look: ``second_look`` is on and ``second_look_from`` is below
        ``min_detection_score`` (the schema refuses otherwise; a copy made with ``model_copy``, such
        as ``platectl recognize --min-score``, may not)."""
        return self.second_look and self.second_look_from < self.min_detection_score

    def detector_path(self) -> Path:
        return self.detector_model or default_models_dir() / "detector-street.tflite"

    def reader_path(self) -> Path:
        return self.reader_model or default_models_dir() / "reader.tflite"

    def coarse_path(self) -> Path:
        return self.coarse_model or default_models_dir() / "detector-street-coarse.tflite"

    def second_look_path(self) -> Path:
        return self.second_look_model or default_models_dir() / "detector-look.tflite"

    def second_detector_path(self) -> Path:
        return self.second_detector_model or default_models_dir() / "detector.tflite"

    def model_paths(self) -> list[tuple[str, Path]]:
        """``(key, path)`` of every model file the daemon loads with this section."""
        out = [("recognition.detector_model", self.detector_path())]
        if self.coarse_pass:
            out.append(("recognition.coarse_model", self.coarse_path()))
        if self.looks_again() and (self.second_look_path() != self.coarse_path() or not self.coarse_pass):
            out.append(("recognition.second_look_model", self.second_look_path()))
        if self.second_detector:
            out.append(("recognition.second_detector_model", self.second_detector_path()))
        return [*out, ("recognition.reader_model", self.reader_path())]


class AccessConfig(Section):
    """Access policy and the local allowlist."""

    allowlist_file: PathStr | None = Field(None, description=(
        "CSV plate,label[,kind] (or JSON) read at start and on reload: its entries are the list's `file` entries, "
        "added, changed and removed as the file is; local edits (platectl) are kept as `local` entries and win "
        "for their plate. Ignored while signed site sync is on (see allowlist-sync.md)"))
    database: PathStr | None = Field(None, description="SQLite allowlist store; default <state_dir>/access.db")
    timezone: str = "UTC"
    min_confidence: Fraction = Field(0.6, description="reads below this are decided 'unknown'")
    tolerant_match: bool = True
    tolerant_min_confidence: Fraction = 0.85
    holdoff_s: Annotated[float, Field(ge=0)] = 30.0

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


LaneRule = Literal["listed", "any", "seen", "none"]


class LaneConfig(Section):
    """The lane: what each direction of travel may do (docs/lanes.md)."""

    approaching: LaneRule = Field("listed", description="cars coming towards the camera: listed = the allowlist "
                                  "decides; any = every read plate not blocklisted; seen = listed, or recorded inside "
                                  "by an entry lane; none = never open")
    leaving: LaneRule = Field("listed", description="cars going away from the camera (same choices)")
    unknown: LaneRule = Field("listed", description="direction not measured (plate in one frame only, or too little "
                                                   "change in size)")
    min_size_change: Annotated[float, Field(gt=0, le=5)] = Field(
        0.15, description="plate size change over the burst that counts as travel (0.15: 15 %)")
    approach_moves: Literal["down", "up", "none"] = Field(
        "down", description="where an approaching plate moves in the picture when its size barely changes "
                            "(down: camera above the lane); none: size only")
    min_shift: PosFloat = Field(0.5, description="that movement, in plate heights over the burst, that counts")
    presence: Literal["none", "enter", "exit"] = Field(
        "none", description="enter: cars this lane opens for are recorded inside; exit: recorded gone")
    presence_db: PathStr | None = Field(None, description="SQLite file the lanes of a box share for presence and 'seen'")
    presence_max_h: PosFloat = Field(24.0, description="a car recorded inside counts as seen for this many hours")

    @model_validator(mode="after")
    def _presence(self) -> LaneConfig:
        uses = self.presence != "none" or "seen" in (self.approaching, self.leaving, self.unknown)
        if uses and self.presence_db is None:
            raise ValueError("presence_db: required when presence is set or a direction uses 'seen'")
        return self


class JournalConfig(Section):
    """Event journal and snapshots."""

    database: PathStr | None = Field(None, description="default <state_dir>/journal.db")
    snapshot_dir: PathStr | None = Field(None, description="default <state_dir>/snapshots")
    snapshots: bool = True
    save_frames: bool = True
    retention_days: Annotated[float, Field(gt=0)] = 30
    max_snapshot_mb: PosInt = 500
    min_free_mb: Annotated[int, Field(ge=0)] = 200
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = 85
