"""Readers for labelled image folders (the formats `alpr eval` and training accept)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.errors import AlprError


@dataclass(frozen=True)
class LabelledScene:
    """A full frame with its true plates: boxes (x, y, w, h) and texts."""

    path: Path
    boxes: tuple[tuple[int, int, int, int], ...]
    plates: tuple[str, ...]


def parse_openalpr_line(line: str, where: str) -> tuple[str, tuple[int, int, int, int], str]:
    """One `file x y w h PLATE` line (tabs or spaces); boxes are kept as given."""
    parts = line.split()
    if len(parts) != 6:
        raise AlprError(f"{where}: expected 'file x y w h PLATE', got {line!r}")
    try:
        x, y, w, h = (int(float(v)) for v in parts[1:5])
    except ValueError as exc:
        raise AlprError(f"{where}: box must be four numbers, got {parts[1:5]}") from exc
    return parts[0], (x, y, w, h), parts[5].upper()


def read_openalpr_folder(folder: Path) -> list[LabelledScene]:
    """Scenes of a folder in the openalpr benchmark format (`*.jpg` + `*.txt`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AlprError(f"{folder} is not a folder")
    scenes: dict[str, tuple[list, list]] = {}
    for txt in sorted(folder.glob("*.txt")):
        for n, line in enumerate(txt.read_text().splitlines(), 1):
            if line.strip():
                name, box, plate = parse_openalpr_line(line, f"{txt.name}:{n}")
                boxes, plates = scenes.setdefault(name, ([], []))
                boxes.append(box)
                plates.append(plate)
    if not scenes:
        raise AlprError(f"{folder} holds no openalpr labels (*.txt lines 'file x y w h PLATE')")
    return [LabelledScene(folder / name, tuple(b), tuple(p)) for name, (b, p) in sorted(scenes.items())]
