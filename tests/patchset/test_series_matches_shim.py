"""The two routes check each other: patched sam3 running the CUDA-user demo's steps with
device="cpu" and no shim gives the same outputs as unmodified sam3 running the demo
script itself under the shim (same seed, same tiny model): max abs diff <= 1e-6.

For each base: sam3==0.1.4 (the wheel, always), sam3 main at 99d02f2 (with its own series;
only when $SAM3_MAIN_SRC names a snapshot) and sam3@96914d2, SAM 3.1 (its own series; only when
$SAM3_31_SRC names a snapshot and the shim on this checkout knows SAM 3.1)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from npu_compat.patchset.engine import apply_series

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "npu_compat" / "commands" / "sam3_demo.py"
ARGS = {"seed": 0, "threshold": 0.0, "prompt": "person", "box": "0.5,0.5,0.5,0.5"}

# The demo's steps with the device a parameter: no .cuda(), no torch.cuda.*, no shim.
NO_SHIM_RUNNER = r"""
import importlib.util, json, sys
tree, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, tree)
import torch
import sam3
assert sam3.__file__.startswith(tree), sam3.__file__
spec = importlib.util.spec_from_file_location("sam3_demo", {demo!r})
demo = importlib.util.module_from_spec(spec); spec.loader.exec_module(demo)
from sam3.model.sam3_image_processor import Sam3Processor
from npu_compat.sam3.tiny import build_tiny_sam3_image_model
torch.manual_seed({seed})
model = build_tiny_sam3_image_model(seed={seed}).to("cpu").eval()
processor = Sam3Processor(model, confidence_threshold={threshold})  # default device: follows the model
image = demo.load_image(None)
state = processor.set_image(image)
state = processor.set_text_prompt(prompt={prompt!r}, state=state)
text = demo.to_json(demo.pick(state, {threshold}, 3, True))  # random weights: the top 3, as the demo draws
box = [float(v) for v in {box!r}.split(",")]
state = processor.add_geometric_prompt(box=box, label=True, state=state)
assert not any(m in ("npu_compat.shim", "npu_compat.session", "npu_compat.apply") for m in sys.modules)  # no shim here
json.dump({{"device": str(next(model.parameters()).device), "text": text, "box": demo.to_json(demo.pick(state, {threshold}, 3, True))}}, open(out, "w"))
"""


def _max_abs_diff(a, b) -> float:
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        return max([_max_abs_diff(x, y) for x, y in zip(a, b)], default=0.0)
    return abs(float(a) - float(b))


def shim_knows_sam31() -> bool:
    """The sam3 rule pack tells SAM 3.1 (sam3@96914d2) apart (npu_compat.sam3.revision)."""
    if importlib.util.find_spec("npu_compat.sam3.revision") is None:
        return False
    from npu_compat.sam3 import revision

    return getattr(revision, "SAM31", None) == "sam3@96914d2"


@pytest.fixture(scope="module", params=["0.1.4", "main@99d02f2", "sam3@96914d2"])
def base(request):
    """(pristine tree, its series): the 0.1.4 wheel, or the main or 3.1 snapshot (skips without it)."""
    if request.param == "0.1.4":
        return request.getfixturevalue("sam3_014"), request.getfixturevalue("series_patches")
    if request.param == "main@99d02f2":
        return request.getfixturevalue("sam3_main"), request.getfixturevalue("main_series_patches")
    tree = request.getfixturevalue("sam3_31")
    if not shim_knows_sam31():
        pytest.skip("the runtime shim on this checkout has no SAM 3.1 support (npu_compat.sam3.revision "
                    "with SAM31 = 'sam3@96914d2'); the comparison runs once it has")
    return tree, request.getfixturevalue("sam31_series_patches")


@pytest.fixture(scope="module")
def patched_tree(base):
    pristine, patches = base
    report, tree = apply_series(pristine, patches)
    assert report.applied
    yield tree
    shutil.rmtree(tree.parent)


def _env(upstream: Path | None) -> dict:
    """No CUDA; `upstream` (a pristine tree) first on sys.path when given, else site-packages' sam3."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    if upstream is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(upstream), str(REPO), env.get("PYTHONPATH", "")])
    return env


def _no_shim(tree: Path, out: Path) -> subprocess.CompletedProcess:
    code = NO_SHIM_RUNNER.format(demo=str(DEMO), **ARGS)
    return subprocess.run([sys.executable, "-c", code, str(tree), str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env=_env(None))


def _sam3_file(env: dict) -> str:
    probe = "import importlib.util; print(importlib.util.find_spec('sam3').origin)"  # main cannot import bare
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/", env=env).stdout


def test_patched_cpu_run_equals_unmodified_sam3_under_shim(base, patched_tree, sam3_014, tmp_path):
    pristine = base[0]
    env = _env(None if pristine == sam3_014 else pristine)  # the wheel is the venv's sam3
    shim_out = tmp_path / "shim"
    proc = subprocess.run([sys.executable, "-m", "npu_compat.apply", "--device", "cpu", "--log-level", "quiet",
                           "--", str(DEMO), "--model", "tiny", "--dtype", "fp32", "--seed", str(ARGS["seed"]),
                           "--threshold", str(ARGS["threshold"]), "--prompt", ARGS["prompt"], "--box", ARGS["box"],
                           "--out", str(shim_out)], cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shimmed = json.loads((shim_out / "result.json").read_text())
    expected_home = "site-packages" if pristine == sam3_014 else str(pristine)
    assert expected_home in _sam3_file(env)

    proc = _no_shim(patched_tree, tmp_path / "patched.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    patched = json.loads((tmp_path / "patched.json").read_text())

    assert shimmed["device"] == patched["device"] == "cpu"
    for route in ("text", "box"):
        assert len(patched[route]["scores"]) > 0  # threshold 0 keeps every query: a real comparison
        for key in ("boxes_raw", "scores", "mask_areas"):  # the model's own boxes (result.json clips "boxes")
            assert _max_abs_diff(shimmed[route][key], patched[route][key]) <= 1e-6, (route, key)
        assert abs(shimmed[route]["mask_logit_mean"] - patched[route]["mask_logit_mean"]) <= 1e-6


def test_unpatched_sam3_cannot_run_the_same_steps_without_shim(base, tmp_path):
    """Control: the same no-shim runner on the pristine tree fails (Sam3Processor defaults to cuda;
    main does not even import: pkg_resources, decord)."""
    proc = _no_shim(base[0], tmp_path / "pristine.json")
    assert proc.returncode != 0 and not (tmp_path / "pristine.json").exists()
