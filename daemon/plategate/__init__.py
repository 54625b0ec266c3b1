"""plategate: an ANPR gate controller for a Raspberry Pi with an IR camera."""

__version__ = "0.1.0"
