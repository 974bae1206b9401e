"""The series for sam3@96914d2 (SAM 3.1), on a snapshot of that revision ($SAM3_31_SRC; skips
without it): `check` is exact, the main series does not fit, and the patched tree runs without
the shim on the cpu target, with triton, decord and flash_attn_interface blocked. The units the
new patches change (FA3, the fused bf16 MLP, start_session) are each run on the patched and on
the pristine tree, so every test here also shows what fails without the series."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from npu_compat.patchset.checks import tiny_cpu_run
from npu_compat.patchset.engine import apply_series
from npu_compat.patchset.verify import cmd_apply, cmd_check
from tests.patchset.conftest import REPO, SAM31_SERIES

# Blocks what CPU, macOS and Ascend hosts lack, then imports sam3 from the tree in argv[1].
_PRELUDE = r"""
import importlib.abc, json, sys
import torch
# the pristine tree imports triton at module level (what 0001 fixes): its controls block only FA3
BLOCKED = ("flash_attn_interface",) if sys.argv[-1] == "pristine" else ("triton", "decord", "flash_attn_interface")
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} blocked: a host without it")
sys.meta_path.insert(0, Blocked())
for name in [m for m in sys.modules if m.split(".")[0] in BLOCKED]:
    del sys.modules[name]
if sys.argv[-1] == "pristine":  # upstream's model_builder imports pkg_resources, gone from setuptools;
    import types                  # the units run here never use it
    sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
sys.path.insert(0, sys.argv[1])
import sam3
assert sam3.__file__.startswith(sys.argv[1]), sam3.__file__
"""

FA3 = r"""
from sam3.perflib.fa3 import flash_attn_func
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(2, 50, 4, 16, generator=g) for _ in range(3))  # FA3 layout: batch, seq, heads, dim
try:
    out = flash_attn_func(q, k, v)
except Exception as error:
    return {"error": f"{type(error).__name__}: {error}"}
qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))
ref = (torch.softmax(qh @ kh.transpose(-1, -2) / 16 ** 0.5, dim=-1) @ vh).transpose(1, 2)
return {"dtype": str(out.dtype), "shape": list(out.shape), "max_diff": float((out - ref).abs().max())}
"""

ADDMM = r"""
from sam3.perflib.fused import addmm_act
g = torch.Generator().manual_seed(0)
linear = torch.nn.Linear(16, 32)
x = torch.randn(3, 5, 16, generator=g)
with torch.no_grad():
    out = addmm_act(torch.nn.GELU, linear, x)
    ref = torch.nn.functional.gelu(linear(x))
return {"dtype": str(out.dtype), "max_diff": float((out.float() - ref).abs().max())}
"""

# The ViT MLP with gradients on, as sam3's trainer runs it (upstream refuses: its own bug, on every device).
ADDMM_GRAD = r"""
from sam3.perflib.fused import addmm_act
torch.manual_seed(0)
linear = torch.nn.Linear(16, 32)
x = torch.randn(3, 5, 16)
try:
    out = addmm_act(torch.nn.GELU, linear, x)
except Exception as error:
    return {"error": f"{type(error).__name__}: {error}"}
out.sum().backward()
ref = torch.nn.functional.gelu(linear(x))
return {"max_diff": float((out - ref).abs().max()), "weight_grad": linear.weight.grad is not None}
"""

# A model whose init_state takes exactly the arguments of SAM 3.1's, read from the tree's source
# (the pristine module cannot be imported on a CPU host: it reads torch.cuda at import).
START_SESSION = r"""
import ast, pathlib
from sam3.model.sam3_base_predictor import Sam3BasePredictor
source = pathlib.Path(sys.argv[1], "sam3/model/sam3_multiplex_tracking.py").read_text()
[cls] = [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "Sam3MultiplexTrackingWithInteractivity"]
[init] = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "init_state"]
accepted = {a.arg for a in init.args.args[1:]}
assert "resource_path" in accepted and init.args.kwarg is None
class Model:
    def init_state(self, **kwargs):
        unknown = set(kwargs) - accepted
        if unknown:  # what Python says for the real method
            raise TypeError(f"init_state() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        return {"num_frames": 1, "args": sorted(kwargs)}
predictor = Sam3BasePredictor()
predictor.model = Model()
try:
    out = predictor.start_session(resource_path="frames")
except TypeError as error:
    return {"error": str(error)}
return {"session": out["session_id"], "args": predictor._all_inference_states[out["session_id"]]["state"]["args"]}
"""


BUILDERS = r"""
import inspect
from sam3 import model_builder as mb
return {name: {k: repr(p.default) for k, p in inspect.signature(getattr(mb, name)).parameters.items()}
        for name in ("build_sam3_multiplex_video_predictor", "build_sam3_multiplex_video_model")}
"""

UNITS = {"fa3": FA3, "addmm": ADDMM, "addmm_grad": ADDMM_GRAD, "start_session": START_SESSION, "builders": BUILDERS}


def _run_units(tree: Path, pristine: bool = False) -> dict:
    """Each unit above as a function in one subprocess on `tree`: {unit: its result}."""
    code = _PRELUDE + "RESULTS = {}\n"
    for name, body in UNITS.items():
        code += f"def unit_{name}():\n" + textwrap.indent(body.strip("\n"), "    ") + f"\nRESULTS[{name!r}] = unit_{name}()\n"
    code += "print(json.dumps(RESULTS))\n"
    args = [str(tree)] + (["pristine"] if pristine else [])
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=600, cwd=tree, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def patched_31(sam3_31, sam31_series_patches):
    report, tree = apply_series(sam3_31, sam31_series_patches)
    assert report.applied
    yield tree
    shutil.rmtree(tree.parent)


@pytest.fixture(scope="module")
def patched_units(patched_31):
    return _run_units(patched_31)


@pytest.fixture(scope="module")
def pristine_units(sam3_31):
    return _run_units(sam3_31, pristine=True)


def test_check_of_the_31_series_is_exact(sam3_31):
    lines, code = cmd_check(SAM31_SERIES, f"dir:{sam3_31}")
    assert code == 0, "\n".join(lines)
    verdicts = [line.split(": ", 1)[1] for line in lines if ".patch: " in line and not line.startswith(" ")]
    assert len(verdicts) == 15 and set(verdicts) == {"exact"}, verdicts
    assert "import sam3 (CPU torch, triton and decord blocked): ok" in lines


def test_the_main_series_does_not_fit_96914d2(sam3_31):
    """The reason the 3.1 series exists: main's 0008 and 0010 reject on 96914d2."""
    lines, code = cmd_check(REPO / "patches" / "sam3-main-99d02f2" / "series", f"dir:{sam3_31}", import_check=False)
    rejected = {line.split("-", 1)[0] for line in lines if line.endswith(": reject") and not line.startswith(" ")}
    assert code == 1 and {"0008", "0010"} <= rejected, lines


def test_every_31_patch_names_its_base_and_0016_is_marked_as_upstreams_bug(sam31_series_patches):
    from npu_compat.patchset.series import header_problems

    for patch in sam31_series_patches:
        assert header_problems(patch.header) == [], patch.name
        assert patch.header["Base-Version"] == "sam3@96914d2", patch.name
    [bug] = [p for p in sam31_series_patches if p.name.startswith("0016")]
    assert bug.header["Description"].startswith("Upstream bug") and "issues/544" in bug.header["Bug"]
    assert sam31_series_patches[-1].name.startswith("0010")  # training last, as in every series


def test_apply_writes_a_31_tree_whose_tiny_image_model_runs_on_cpu_without_the_shim(sam3_31, tmp_path):
    lines, code = cmd_apply(SAM31_SERIES, f"dir:{sam3_31}", tmp_path / "patched")
    assert code == 0, lines
    assert tiny_cpu_run(tmp_path / "patched") is None  # model.to("cpu"), Sam3Processor(model), no shim
    assert tiny_cpu_run(sam3_31) is not None  # control: unmodified 96914d2 fails the same steps


def test_fa3_becomes_sdpa_without_flash_attn_interface(patched_units, pristine_units):
    patched = patched_units["fa3"]
    assert patched["dtype"] == "torch.float32" and patched["shape"] == [2, 50, 4, 16]
    assert patched["max_diff"] <= 1e-5
    assert "flash_attn_interface" in pristine_units["fa3"]["error"]  # control: upstream needs FA3


def test_fused_mlp_keeps_fp32_off_cuda(patched_units, pristine_units):
    patched = patched_units["addmm"]
    assert patched["dtype"] == "torch.float32" and patched["max_diff"] <= 1e-6
    assert pristine_units["addmm"]["dtype"] == "torch.bfloat16"  # control: upstream returns bf16 (vitdet.py fails)


def test_fused_mlp_trains_with_gradients_on(patched_units, pristine_units):
    patched = patched_units["addmm_grad"]
    assert patched["weight_grad"] and patched["max_diff"] <= 1e-6
    assert "Expected grad to be disabled" in pristine_units["addmm_grad"]["error"]  # control: upstream's own bug


def test_start_session_works_with_the_31_init_state(patched_units, pristine_units):
    patched = patched_units["start_session"]
    assert patched["session"] and "offload_state_to_cpu" not in patched["args"]
    assert "offload_state_to_cpu" in pristine_units["start_session"]["error"]  # control: upstream's own bug


def test_multiplex_builders_take_a_device_and_skip_the_download_when_asked(patched_units, pristine_units):
    """Read from the trees' signatures (the full build is the slow test below)."""
    patched = patched_units["builders"]
    assert patched["build_sam3_multiplex_video_predictor"]["device"] == "None"
    assert patched["build_sam3_multiplex_video_predictor"]["load_from_HF"] == "True"
    assert patched["build_sam3_multiplex_video_model"]["device"] == "None"
    assert "load_from_HF" not in pristine_units["builders"]["build_sam3_multiplex_video_predictor"]


VIDEO = r"""
import time
from sam3.model_builder import build_sam3_predictor
from npu_compat.sam3.tiny import init_uninitialised_text_params
frames_dir, out = sys.argv[2], sys.argv[3]
torch.manual_seed(0)
predictor = build_sam3_predictor(version="sam3.1", load_from_HF=False, device="cpu")  # random weights
init_uninitialised_text_params(predictor.model, torch.Generator().manual_seed(0))
assert next(predictor.model.parameters()).device.type == "cpu"
sid = predictor.handle_request({"type": "start_session", "resource_path": frames_dir})["session_id"]
prompt = predictor.handle_request({"type": "add_prompt", "session_id": sid, "frame_index": 0, "text": "person"})
frames = [o["frame_index"] for o in predictor.handle_stream_request({"type": "propagate_in_video", "session_id": sid})]
closed = predictor.handle_request({"type": "close_session", "session_id": sid})
assert not any(m.startswith("npu_compat.shim") or m == "npu_compat.apply" for m in sys.modules)
json.dump({"prompt_frame": prompt["frame_index"], "frames": sorted(frames), "closed": closed}, open(out, "w"))
"""

TINY_VIDEO = r"""
from sam3.model.sam3_multiplex_video_predictor import Sam3MultiplexVideoPredictor
from npu_compat.sam3.tiny_multiplex import build_tiny_sam3_multiplex_model
frames_dir, out = sys.argv[2], sys.argv[3]
model = build_tiny_sam3_multiplex_model(seed=0).to("cpu").eval()
predictor = Sam3MultiplexVideoPredictor(model=model, default_output_prob_thresh=0.0, async_loading_frames=True)
sid = predictor.handle_request({"type": "start_session", "resource_path": frames_dir})["session_id"]
prompt = predictor.handle_request({"type": "add_prompt", "session_id": sid, "frame_index": 0, "text": "shape"})
frames = [o["frame_index"] for o in predictor.handle_stream_request({"type": "propagate_in_video", "session_id": sid})]
closed = predictor.handle_request({"type": "close_session", "session_id": sid})
assert not any(m.startswith("npu_compat.shim") or m == "npu_compat.apply" for m in sys.modules)
json.dump({"prompt_frame": prompt["frame_index"], "frames": sorted(frames), "closed": closed}, open(out, "w"))
"""


def _frames(folder: Path, count: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(folder / f"{index:05d}.jpg")
    return folder


def _video(tree: Path, body: str, frames: Path, out: Path, pristine: bool = False) -> subprocess.CompletedProcess:
    args = [str(tree), str(frames), str(out)] + (["pristine"] if pristine else [])
    return subprocess.run([sys.executable, "-c", _PRELUDE + body, *args], capture_output=True, text=True,
                          timeout=3600, cwd=REPO, env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO)})


def test_patched_31_tiny_multiplex_video_on_cpu_without_the_shim(sam3_31, patched_31, tmp_path):
    """3.1's multiplex predictor and tracker (the tiny model from 3.1's own classes) through upstream's
    request API, 3 frames, cpu, no shim; the pristine tree cannot (it reads torch.cuda at import)."""
    if importlib.util.find_spec("npu_compat.sam3.tiny_multiplex") is None:
        pytest.skip("npu_compat.sam3.tiny_multiplex (the tiny SAM 3.1 model) is not on this checkout yet")
    frames = _frames(tmp_path / "frames", 3)
    proc = _video(patched_31, TINY_VIDEO, frames, tmp_path / "tiny.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "tiny.json").read_text())
    assert result["prompt_frame"] == 0 and result["frames"] == [0, 1, 2]
    assert result["closed"]["is_success"] is True
    control = _video(sam3_31, TINY_VIDEO, frames, tmp_path / "pristine.json", pristine=True)
    assert control.returncode != 0 and not (tmp_path / "pristine.json").exists()


@pytest.mark.slow
def test_patched_31_video_predictor_full_size_on_cpu_without_the_shim(patched_31, tmp_path):
    """Upstream's recommended entry point, build_sam3_predictor(version="sam3.1"), at full size with
    random weights, 2 frames, on the cpu target with no shim (minutes; 6+ GB)."""
    frames = _frames(tmp_path / "frames", 2)
    out = tmp_path / "video.json"
    proc = _video(patched_31, VIDEO, frames, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["prompt_frame"] == 0 and result["frames"] == [0, 1]
    assert result["closed"]["is_success"] is True

