"""The HTML parity report: one static page, its plot, and how it renders in headless Chromium."""
import base64
import re
import shutil
import subprocess

import pytest

from npu_compat.parity.dump_verdict import DumpVerdict, OpRow
from npu_compat.parity.html_report import CLASS_COLOURS, report_html, worst_by_stage_and_class

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _rows():
    return [OpRow("Functional.linear.0.forward", "Functional.linear", "backbone.vision_backbone", "ulp", "pass", 0.2),
            OpRow("Functional.layer_norm.0.forward", "Functional.layer_norm", "backbone.vision_backbone", "cosine",
                  "fail", 40.0, call_site="File model.py, line 3 | x = self.norm(x)", msprobe_result="error"),
            OpRow("Tensor.__add__.0.forward", "Tensor.__add__", "transformer.decoder", "elementwise", "inherited", 9.0),
            OpRow("Functional.conv2d.0.forward", "Functional.conv2d", "transformer.decoder", "conv", "unmatched", 0.0)]


def test_worst_by_stage_and_class_skips_unmatched_calls():
    table = worst_by_stage_and_class(_rows())
    assert table == {"backbone.vision_backbone": {"ulp": 0.2, "cosine": 40.0},
                     "transformer.decoder": {"elementwise": 9.0}}


def test_page_names_the_first_divergent_op_and_embeds_a_png():
    page = report_html("toy <run>", DumpVerdict(_rows(), ["Functional.layer_norm.0.forward"], []))
    assert "<title>toy &lt;run&gt;</title>" in page
    box = page[page.index("First divergent op"):]
    assert "Functional.layer_norm.0.forward" in box[:400] and "x = self.norm(x)" in box[:600]
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1))
    assert png.startswith(PNG_SIGNATURE)
    assert "kit: FAIL" in page and "msprobe compare: FAIL" in page


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(page, png, width=1280, height=1100):
    done = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]


def _colour_pixels(image, colour, tolerance=12):
    import numpy as np

    rgb = np.asarray(image.convert("RGB")).astype(int)
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).max(axis=-1) <= tolerance).sum())


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (Debian: apt-get install "
                                                "chromium; CI installs it in .ci/apt-deps.sh)")
def test_tiny_fault_report_renders_in_chromium_with_its_plot(tiny_msprobe_runs, tmp_path):
    """``parity e2e --model tiny --plant-fault layer_norm_eps --msprobe-dir``: report.html names the first
    divergent op; a Chromium screenshot is not blank and the plot's bars are drawn."""
    import numpy as np
    from PIL import Image

    root, _ = tiny_msprobe_runs
    page = root / "fault" / "report.html"
    text = page.read_text()
    box = text[text.index("First divergent op"):]
    assert "Functional.layer_norm.0.forward" in box[:300] and "vitdet.py" in box[:800]
    _screenshot(page, tmp_path / "shot.png")
    shot = Image.open(tmp_path / "shot.png")
    grey = np.asarray(shot.convert("L")).astype(float)
    assert shot.size == (1280, 1100) and grey.std() > 20 and (grey < 200).mean() > 0.02  # not blank
    # The plot's bars: op-class colours that appear nowhere else on the page, in the plot's band.
    plot = shot.crop((0, 250, 1280, 1000))
    drawn = {name: _colour_pixels(plot, colour) for name, colour in CLASS_COLOURS.items()}
    assert sum(count > 200 for count in drawn.values()) >= 3, drawn
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body></body></html>")
    _screenshot(blank, tmp_path / "blank.png")
    assert np.asarray(Image.open(tmp_path / "blank.png").convert("L")).std() < 1  # the check can fail
