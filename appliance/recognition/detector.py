"""The plate detector: a downscaled frame in, plate boxes and corners out.

The frame is letterboxed into 640x384 (1080p / 3, 720p / 2), the ONNX network gives a
centre heatmap, box-edge distances and corner offsets at stride 4, and peaks are picked
here in numpy (3x3 local maxima above a threshold, then non-maximum suppression), so no
NMS op is needed in the graph. Boxes and corners come back in full-frame pixels so crops
can be cut and rectified at full resolution.

Small plates are found again in a zoomed window (`refine`): at 640x384 a 60 px plate in a
1280 px frame is 30 px across, and its corners are a few pixels off, enough to clip or
pad a character in the cut. The network is fully convolutional, so the same model runs on
a 320x192 window four plate widths wide, where that plate is ~80 px.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from appliance.errors import ModelError
from appliance.recognition.onnx_session import make_session

NET_W, NET_H = 640, 384
STRIDE = 4
THRESHOLD = 0.4  # chosen on the US training/validation scenes: same recall as 0.3, half the sign-text false reads
MAX_PLATES = 20
NMS_IOU = 0.4
ZOOM_BELOW = 64  # plates narrower than this in the 640x384 input are found again zoomed in
ZOOM_WIDTHS = 4  # the zoomed window is this many plate widths wide, 5:3 like the network's input
ZOOM_W, ZOOM_H = 320, 192  # the zoomed window's network input (the plate is ~80 px there)
ZOOM_THRESHOLD = 0.05  # in the window the plate is already known; only its geometry is wanted


@dataclass(frozen=True)
class Detection:
    """One plate found in a frame (full-frame pixels)."""

    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    corners: np.ndarray  # (4,2) clockwise from top-left


def default_model_path() -> Path:
    """The detector model shipped inside the package."""
    return Path(str(resources.files("appliance.recognition") / "models" / "detector.onnx"))


def letterbox(frame: np.ndarray, width: int = NET_W, height: int = NET_H) -> tuple[np.ndarray, float]:
    """Resize to fit width x height (top-left aligned, zero padding); return input and scale."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((height, width, 3), np.float32)
    canvas[:nh, :nw] = small
    return canvas.transpose(2, 0, 1)[None] * np.float32(1 / 255.0), scale


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(dets: list[Detection], threshold: float = NMS_IOU) -> list[Detection]:
    """Keep the best of overlapping detections."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(iou(d.box, k.box) < threshold for k in kept):
            kept.append(d)
    return kept


def decode(out: np.ndarray, scale: float, threshold: float = THRESHOLD) -> list[Detection]:
    """Peaks of one image's (13,H,W) output, mapped back through `scale`."""
    heat = out[0]
    peaks = (heat == cv2.dilate(heat, np.ones((3, 3), np.uint8))) & (heat >= threshold)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-heat[ys, xs])[: MAX_PLATES * 3]
    dets = []
    for i, j in zip(ys[order], xs[order]):
        cx, cy = (j + 0.5) * STRIDE, (i + 0.5) * STRIDE
        l, t, r, b = np.exp(np.clip(out[1:5, i, j], -4, 6)) * STRIDE
        x0, y0, x1, y1 = cx - l, cy - t, cx + r, cy + b
        bw, bh = x1 - x0, y1 - y0
        off = out[5:13, i, j].reshape(4, 2)
        corners = np.stack([cx + off[:, 0] * bw, cy + off[:, 1] * bh], axis=1) / scale
        dets.append(Detection(float(heat[i, j]), (x0 / scale, y0 / scale, x1 / scale, y1 / scale), corners.astype(np.float32)))
    return nms(dets)[:MAX_PLATES]


class PlateDetector:
    """Finds plates in full frames with one onnxruntime session."""

    def __init__(self, model: Path | None = None, threads: int = 1, threshold: float = THRESHOLD) -> None:
        self.session = make_session(model or default_model_path(), threads)
        if self.session.get_inputs()[0].shape[1] != 3:
            raise ModelError("detector model must take (N, 3, H, W) BGR/255 input")
        self.input_name = self.session.get_inputs()[0].name
        self.threshold = threshold

    def detect(self, frame: np.ndarray, threshold: float | None = None) -> list[Detection]:
        """Plates in one BGR frame, best first; peaks down to `threshold` (default: the detector's)."""
        x, scale = letterbox(frame)
        out = self.session.run(None, {self.input_name: x})[0][0]
        return decode(out, scale, self.threshold if threshold is None else threshold)

    def refine(self, frame: np.ndarray, dets: list[Detection]) -> list[Detection]:
        """`dets` with each small plate's box and corners found again in a zoomed window.

        One batched network call for all small plates. A refined detection keeps its
        score (thresholds stay those of the whole frame); a plate not found again in its
        window, or one that is not small, is returned as it was (the same object).
        """
        h, w = frame.shape[:2]
        scale = min(NET_W / w, NET_H / h)
        small = [i for i, d in enumerate(dets) if (d.box[2] - d.box[0]) * scale < ZOOM_BELOW]
        if not small:
            return list(dets)
        windows = [zoom_window(frame.shape, dets[i].box) for i in small]
        inputs = [letterbox(frame[y0:y1, x0:x1], ZOOM_W, ZOOM_H) for x0, y0, x1, y1 in windows]
        outs = self.session.run(None, {self.input_name: np.concatenate([x for x, _ in inputs])})[0]
        refined = list(dets)
        for i, (x0, y0, _, _), out, (_, s) in zip(small, windows, outs, inputs):
            found = [shifted(f, x0, y0) for f in decode(out, s, ZOOM_THRESHOLD)]
            near = [f for f in found if iou(f.box, dets[i].box) >= 0.3]
            if near:
                best = max(near, key=lambda f: iou(f.box, dets[i].box))
                refined[i] = Detection(dets[i].score, best.box, best.corners)
        return refined


def zoom_window(shape: tuple[int, ...], box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """A ZOOM_W x ZOOM_H-shaped window ZOOM_WIDTHS plate widths wide about a box, inside the frame."""
    h, w = shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    ww = (box[2] - box[0]) * ZOOM_WIDTHS
    wh = ww * ZOOM_H / ZOOM_W
    x0, y0 = int(max(0, cx - ww / 2)), int(max(0, cy - wh / 2))
    x1, y1 = int(min(w, cx + ww / 2)), int(min(h, cy + wh / 2))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def shifted(d: Detection, dx: float, dy: float) -> Detection:
    """A window's detection in the frame's pixels."""
    b = d.box
    return Detection(d.score, (b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy), d.corners + np.float32([dx, dy]))
