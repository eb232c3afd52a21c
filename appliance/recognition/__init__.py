"""Plate recognition on the device's CPU with onnxruntime."""
