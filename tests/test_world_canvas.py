"""Scenes, the renderer, the parser and world-canvas detection."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from edit_agent.errors import InvalidImageError
from edit_agent.world import (
    Scene,
    SceneObject,
    is_world_canvas,
    parse,
    random_scene,
    render,
)
from edit_agent.world.parse import canvas_side
from edit_agent.world.render import template_mask
from edit_agent.world.scene import BACKGROUND_RGB, CELLS, OBJECT_RGB


def obj(shape="circle", color="red", size="large", cell="center"):
    return SceneObject(shape=shape, color=color, size=size, cell=cell)


def test_scene_validation_and_order():
    with pytest.raises(ValidationError, match="at most one object per cell"):
        Scene(background="white", objects=(obj(), obj(shape="square")))
    with pytest.raises(ValidationError):
        Scene(background="red")  # an object colour is not a background
    a = Scene(background="white", objects=(obj(cell="center"), obj(cell="top-left")))
    b = Scene(background="white", objects=(obj(cell="top-left"), obj(cell="center")))
    assert a == b  # object order carries no meaning
    assert Scene.from_json(a.to_json()) == a


@pytest.mark.parametrize("size", [48, 96, 192, 51])
def test_render_size_and_colours(size):
    image = render(Scene(background="beige", objects=(obj(color="blue"),)), size)
    assert image.size == (size, size) and image.mode == "RGB"
    assert image.getpixel((0, 0)) == BACKGROUND_RGB["beige"]
    assert image.getpixel((size // 2, size // 2)) == OBJECT_RGB["blue"]
    assert {c for _, c in image.getcolors()} == {BACKGROUND_RGB["beige"], OBJECT_RGB["blue"]}  # no anti-aliasing


@pytest.mark.parametrize("size", [0, 45, 47, 97])
def test_render_rejects_bad_sizes(size):
    with pytest.raises(InvalidImageError):
        render(Scene(background="white"), size)


def test_shape_geometry_at_reference_size():
    # cell side 32: a large box is 25.6 px wide, a small one 16 px, centred on the cell centre (16, 16)
    square = template_mask("square", "small", 32)
    assert square.sum() == 16 * 16 and square[8:24, 8:24].all()
    large_square = template_mask("square", "large", 32)
    # pixel centres 3.5..28.5 lie in [3.2, 28.8]: 26 columns
    assert large_square.sum() == 26 * 26
    disc = template_mask("circle", "large", 32)
    assert disc[16, 16] and disc[16, 3] and not disc[3, 3]
    diamond = template_mask("diamond", "large", 32)
    assert diamond[16, 4] and diamond[4, 16] and not diamond[16, 3] and not diamond[5, 5]
    triangle = template_mask("triangle", "large", 32)
    assert triangle[4, 16] and not triangle[4, 10]  # apex at the top centre
    assert triangle[28, 4] and triangle[28, 27]  # the base is the box's bottom edge
    assert not triangle[29, 16]


def test_parse_round_trip_on_random_scenes_at_three_sizes():
    rng = random.Random(11)
    for size in (48, 96, 192):
        for _ in range(150):
            scene = random_scene(rng)
            assert parse(render(scene, size)) == scene


def noisy(image: Image.Image, rng: np.random.Generator, sigma: float = 0.08) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64) / 255 + rng.normal(0, sigma, (*image.size[::-1], 3))
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).round().astype(np.uint8))


def jpeg(image: Image.Image, quality: int = 60) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


@pytest.mark.parametrize("size,needed,n", [(48, 0.97, 500), (96, 0.99, 200)])
def test_parse_survives_noise_and_jpeg(size, needed, n):
    # the full check (10,000 scenes per size) is scripts/world_parse_check.py
    rng, noise = random.Random(size), np.random.default_rng(size)
    scenes = [random_scene(rng) for _ in range(n)]
    noise_ok = sum(parse(noisy(render(s, size), noise)) == s for s in scenes) / len(scenes)
    jpeg_ok = sum(parse(jpeg(render(s, size))) == s for s in scenes) / len(scenes)
    assert noise_ok >= needed and jpeg_ok >= needed


def test_parse_resizes_non_canvas_images_nearest_neighbour():
    scene = Scene(background="sky", objects=(obj(cell="top-left", color="green"), obj(cell="bottom-right", shape="square")))
    image = render(scene, 96)
    assert parse(image.resize((100, 100), Image.Resampling.NEAREST)) == scene
    assert parse(image.resize((97, 95), Image.Resampling.NEAREST)) == scene
    assert parse(image.convert("RGBA")) == scene
    assert canvas_side(100, 100) == 99 and canvas_side(97, 95) == 96 and canvas_side(98, 98) == 99


def test_parse_threshold_and_background_vote():
    canvas = np.full((96, 96, 3), BACKGROUND_RGB["gray"], dtype=np.uint8)
    canvas[0:8, 0:8] = OBJECT_RGB["red"]  # 64 of 1024 px = 6.25% of the cell: below 7%
    assert parse(Image.fromarray(canvas)) == Scene(background="gray")
    canvas[0:9, 0:9] = OBJECT_RGB["red"]  # 81 px = 7.9%: an object
    assert parse(Image.fromarray(canvas)).object_at("top-left").color == "red"


def test_exactly_seven_percent_of_a_cell_holds_an_object():
    canvas = np.full((60, 60, 3), BACKGROUND_RGB["white"], dtype=np.uint8)  # cells of 20 x 20 = 400 px
    canvas[0:4, 0:7] = OBJECT_RGB["blue"]  # 28 of 400 px: exactly 7%
    assert parse(Image.fromarray(canvas)).object_at("top-left").color == "blue"
    canvas[0:4, 6] = BACKGROUND_RGB["white"]  # 24 px: 6%
    assert parse(Image.fromarray(canvas)) == Scene(background="white")


def test_is_world_canvas():
    rng = random.Random(3)
    scene = random_scene(rng, 3, 6)
    assert is_world_canvas(render(scene, 96))
    assert is_world_canvas(noisy(render(scene, 192), np.random.default_rng(0)))
    assert is_world_canvas(jpeg(render(scene, 96)))
    assert is_world_canvas(render(scene, 96).resize((101, 99), Image.Resampling.NEAREST))
    gradient = Image.linear_gradient("L").convert("RGB").resize((96, 96))
    assert not is_world_canvas(gradient)
    assert not is_world_canvas(render(scene, 96).resize((96, 160)))  # not square
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8))
    assert not is_world_canvas(photo)
    assert all(cell in CELLS for cell in (o.cell for o in scene.objects))


@pytest.mark.parametrize("size", [(48, 48), (288, 288), (300, 291), (500, 500)])
def test_render_at_draws_a_scene_at_any_canvas_size_and_parses_back(size):
    from edit_agent.world.canvas import render_at

    scene = random_scene(random.Random(5), 3, 6)
    image = render_at(scene, size)
    assert image.size == size and parse(image) == scene
    if size[0] == size[1] and size[0] % 3 == 0:
        assert image.tobytes() == render(scene, size[0]).tobytes()


def test_telling_a_square_photo_from_a_canvas_builds_no_colour_table():
    # The 16 MiB nearest-colour table took half a second of a square photo's first turn: only a canvas needs it.
    from skimage import data

    from edit_agent.world.parse import _nearest_palette_table

    _nearest_palette_table.cache_clear()
    assert not is_world_canvas(Image.fromarray(data.astronaut()))
    assert _nearest_palette_table.cache_info().currsize == 0
    assert is_world_canvas(render(Scene(background="white", objects=()), 192))
