"""The MICE-World scene: a background colour and at most one object in each cell of a 3x3 grid.

>>> scene = Scene.model_validate({"background": "white", "objects": [
...     {"shape": "circle", "color": "red", "size": "small", "cell": "center"}]})
>>> scene.object_at("center").shape
'circle'
>>> scene == Scene.from_json(scene.to_json())
True
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, field_validator

Cell = Literal[
    "top-left", "top-center", "top-right",
    "middle-left", "center", "middle-right",
    "bottom-left", "bottom-center", "bottom-right",
]
Shape = Literal["circle", "square", "triangle", "diamond"]
Size = Literal["small", "large"]
Color = Literal["red", "green", "blue", "yellow", "purple", "orange", "black"]
Background = Literal["white", "gray", "beige", "sky"]

CELLS: tuple[str, ...] = get_args(Cell)
"""The nine cells in reading order (row by row, left to right)."""
SHAPES: tuple[str, ...] = get_args(Shape)
SIZES: tuple[str, ...] = get_args(Size)
COLORS: tuple[str, ...] = get_args(Color)
BACKGROUNDS: tuple[str, ...] = get_args(Background)

OBJECT_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 70),
    "blue": (40, 80, 220),
    "yellow": (240, 200, 30),
    "purple": (140, 60, 180),
    "orange": (245, 130, 30),
    "black": (30, 30, 30),
}
BACKGROUND_RGB: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "gray": (190, 190, 190),
    "beige": (235, 222, 195),
    "sky": (195, 222, 245),
}
SIZE_FRACTION: dict[str, float] = {"small": 0.5, "large": 0.8}
"""Side of the object box as a fraction of the cell side."""

ATTRIBUTES: tuple[str, ...] = ("shape", "color", "size", "cell")


def cell_index(cell: str) -> int:
    return CELLS.index(cell)


def cell_row_col(cell: str) -> tuple[int, int]:
    return divmod(CELLS.index(cell), 3)


def cell_at(row: int, col: int) -> str | None:
    """The cell at (row, col), or None off the grid."""
    if 0 <= row < 3 and 0 <= col < 3:
        return CELLS[row * 3 + col]
    return None


def cell_words(cell: str) -> str:
    """How a cell is said in English: "top left", "center"."""
    return cell.replace("-", " ")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SceneObject(_Frozen):
    shape: Shape
    color: Color
    size: Size
    cell: Cell

    def describe(self, *, with_cell: bool = True) -> str:
        """Noun phrase without article: "small red circle at the top left"."""
        words = f"{self.size} {self.color} {self.shape}"
        return f"{words} at the {cell_words(self.cell)}" if with_cell else words

    def slot(self) -> tuple[str, str, str]:
        return (self.shape, self.color, self.size)


class Scene(_Frozen):
    """A scene. Objects are kept in reading order of their cells, so equal scenes compare equal."""

    background: Background
    objects: tuple[SceneObject, ...] = ()

    @field_validator("objects")
    @classmethod
    def _one_object_per_cell(cls, objects: tuple[SceneObject, ...]) -> tuple[SceneObject, ...]:
        cells = [obj.cell for obj in objects]
        duplicated = sorted({cell for cell in cells if cells.count(cell) > 1})
        if duplicated:
            raise ValueError(f"at most one object per cell; several at: {', '.join(duplicated)}")
        return tuple(sorted(objects, key=lambda obj: cell_index(obj.cell)))

    def object_at(self, cell: str) -> SceneObject | None:
        for obj in self.objects:
            if obj.cell == cell:
                return obj
        return None

    def slots(self) -> tuple[Any, ...]:
        """The 10 scored slots: the nine cells (None or (shape, color, size)) and the background."""
        by_cell = {obj.cell: obj.slot() for obj in self.objects}
        return tuple(by_cell.get(cell) for cell in CELLS) + (self.background,)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(", ", ": "))

    @classmethod
    def from_json(cls, text: str) -> Scene:
        return cls.model_validate_json(text)


def changed_slots(before: Scene, after: Scene) -> set[int]:
    """Indices (0-8 cells, 9 background) of the slots that differ between two scenes."""
    return {i for i, (a, b) in enumerate(zip(before.slots(), after.slots())) if a != b}
