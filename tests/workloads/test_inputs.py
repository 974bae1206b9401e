"""Input checks run before any model build: boxes, thresholds, prompts, images, output paths."""
from __future__ import annotations

import argparse

import pytest
from PIL import Image

from npu_compat.workloads import inputs
from npu_compat.workloads.inputs import InputError


@pytest.mark.parametrize("text", ["0.5,0.5,0.4,0.4", "0.5,0.5,1,1", "0.1,0.1,0.2,0.2"])
def test_boxes_inside_the_picture(text):
    assert inputs.parse_box(text) == tuple(float(v) for v in text.split(","))


@pytest.mark.parametrize("text, words", [
    ("1,2,3", "four numbers"), ("10,20,60,40", "[0,1]"), ("0.9,0.5,0.4,0.4", "outside"),
    ("0.5,0.05,0.2,0.2", "outside"), ("0.5,0.5,0,0.3", "> 0"), ("a,b,c,d", "four numbers"), ("", "four numbers"),
])
def test_bad_boxes(text, words):
    with pytest.raises(argparse.ArgumentTypeError, match=words.replace("[", r"\[").replace("]", r"\]")):
        inputs.parse_box(text)


def test_numbers():
    assert inputs.unit_interval("0") == 0.0 and inputs.unit_interval("1") == 1.0
    for bad in ("2", "-0.1", "nan", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            inputs.unit_interval(bad)
    assert inputs.positive_int("3") == 3 and inputs.non_negative_int("0") == 0
    for bad in ("0", "-3", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            inputs.positive_int(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        inputs.non_negative_int("-3")


def test_prompts():
    assert inputs.prompt_text("a dog") == "a dog"
    for bad in ("", "  ", "\t"):
        with pytest.raises(argparse.ArgumentTypeError, match="empty"):
            inputs.prompt_text(bad)


def test_images(tmp_path, monkeypatch):
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30)).save(good)
    assert inputs.load_image(good).size == (40, 30)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(InputError, match="cannot be decoded"):
        inputs.load_image(tmp_path / "bad.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40 * 30 // 2 - 1)  # 2x over the limit: PIL's error
    with pytest.raises(InputError, match="too large"):
        inputs.load_image(good)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40 * 30 - 1)  # just over: PIL only warns; refused too
    with pytest.raises(InputError, match="too large"):
        inputs.load_image(good)
    with pytest.raises(InputError, match="does not exist"):
        inputs.load_image(tmp_path / "none.png")


def test_output_paths_are_checked_without_creating_anything(tmp_path):
    target = tmp_path / "a" / "b"
    assert inputs.check_output_dir(target) == target and not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        inputs.check_output_dir(afile)
    with pytest.raises(InputError, match="under the file"):
        inputs.check_output_dir(afile / "sub")
    with pytest.raises(InputError, match="under the file"):
        inputs.check_output_file(afile / "p.json")
    with pytest.raises(InputError, match="is a folder"):
        inputs.check_output_file(tmp_path)
    with pytest.raises(InputError, match="cannot be written"):
        inputs.check_output_dir("/sys/npu_compat_probe")  # sysfs refuses new files, even for root
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
