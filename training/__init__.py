"""Training and ONNX export of the recognition models (never imported by the device)."""
