"""Camera sources behind one small interface, chosen by name in the configuration."""

from firmware.camera.frame import Frame

__all__ = ["Frame"]
