"""The ``[lane]`` section of the configuration (docs/lanes.md): what each direction of travel
may do, how the direction is measured, and the presence records the lanes of a box share.

Part of the one schema in :mod:`plategate.config` (which includes it as ``lane``); kept here
so that the schema module stays small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PosFloat = Annotated[float, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


LaneRule = Literal["listed", "any", "seen", "none"]


class LaneConfig(_Section):
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
    presence_db: Path | None = Field(None, description="SQLite file the lanes of a box share for presence and 'seen'")
    presence_max_h: PosFloat = Field(24.0, description="a car recorded inside counts as seen for this many hours")

    @model_validator(mode="after")
    def _presence(self) -> LaneConfig:
        uses = self.presence != "none" or "seen" in (self.approaching, self.leaving, self.unknown)
        if uses and self.presence_db is None:
            raise ValueError("presence_db: required when presence is set or a direction uses 'seen'")
        return self
