"""The one checkpoint loader: matching checkpoints load, mismatched ones are refused with counts and names,
files that are not checkpoints are one-line errors; the full model's path is checked in a slow test."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from npu_compat.sam3.tiny import build_tiny_sam3_image_model
from npu_compat.workloads import checkpoints
from npu_compat.workloads.checkpoints import CheckpointError, load_checkpoint, read_checkpoint
from npu_compat.workloads.model_loading import build_model
from tests.conftest import ROOT


@pytest.fixture(scope="module", autouse=True)
def shim_on_cpu():
    """sam3 builds its caches on "cuda": the tiny model is built under the shim for cpu."""
    import npu_compat

    npu_compat.revert()
    npu_compat.apply(device="cpu")
    yield
    npu_compat.revert()


@pytest.fixture(scope="module")
def tiny_state(shim_on_cpu):
    return build_tiny_sam3_image_model(seed=1).state_dict()


def test_matching_checkpoint_loads_its_weights(tiny_state, tmp_path):
    path = tmp_path / "tiny.pt"
    torch.save({"model": tiny_state}, path)
    model = build_model("tiny", str(path), torch.device("cpu"), seed=0)
    for name, value in model.state_dict().items():
        assert torch.equal(value, tiny_state[name]), name


def test_full_sam3_layout_is_mapped_from_detector_keys(tiny_state, tmp_path):
    path = tmp_path / "sam3-layout.pt"
    torch.save({"model": {**{f"detector.{k}": v for k, v in tiny_state.items()},
                          "tracker.some.weight": torch.zeros(2)}}, path)
    model = load_checkpoint(build_tiny_sam3_image_model(seed=0), path)
    name = next(iter(tiny_state))
    assert torch.equal(model.state_dict()[name], tiny_state[name])


def test_wrong_keys_are_refused_with_counts_and_names(tiny_state, tmp_path):
    state = dict(tiny_state)
    dropped = sorted(state)[:5]
    for key in dropped:
        del state[key]
    state["not.a.weight"] = torch.zeros(3)
    path = tmp_path / "wrong.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as err:
        build_model("tiny", str(path), torch.device("cpu"))
    text = str(err.value)
    assert "5 missing" in text and "1 unexpected" in text and dropped[0] in text and "not.a.weight" in text
    assert checkpoints.PARTIAL_FLAG in text and "\n" not in text


def test_partial_flag_loads_what_matches(tiny_state, tmp_path, capsys):
    state = dict(tiny_state)
    dropped = sorted(state)[0]
    del state[dropped]
    path = tmp_path / "partial.pt"
    torch.save(state, path)
    fresh = build_tiny_sam3_image_model(seed=0).state_dict()
    model = build_model("tiny", str(path), torch.device("cpu"), seed=0, allow_partial=True)
    assert torch.equal(model.state_dict()[dropped], fresh[dropped])  # kept its initial weights
    kept = sorted(state)[0]
    assert torch.equal(model.state_dict()[kept], tiny_state[kept])
    assert "1 missing" in capsys.readouterr().err


def test_a_checkpoint_of_another_model_is_refused_even_with_the_partial_flag(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(CheckpointError, match="not for this model"):
        build_model("tiny", str(path), torch.device("cpu"), allow_partial=True)


def test_wrong_shapes_are_refused(tiny_state, tmp_path):
    state = dict(tiny_state)
    key = next(k for k, v in state.items() if v.dim() == 2)
    state[key] = torch.zeros(3, 3)
    path = tmp_path / "shape.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="1 with the wrong shape"):
        load_checkpoint(build_tiny_sam3_image_model(seed=0), path)


@pytest.mark.parametrize("content, reason", [
    (b"this is a text file\n", "not a PyTorch checkpoint"),
    (b"", "not a PyTorch checkpoint"),
])
def test_files_that_are_not_checkpoints(tmp_path, content, reason):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=reason) as err:
        read_checkpoint(path)
    assert "weights_only" not in str(err.value)


def test_truncated_checkpoint(tiny_state, tmp_path):
    path = tmp_path / "cut.pt"
    torch.save(tiny_state, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        read_checkpoint(path)


def test_pickled_objects_are_refused_without_torch_advice(tmp_path):
    path = tmp_path / "obj.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    assert "weights_only=False" not in str(err.value) and "not a PyTorch checkpoint" in str(err.value)


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="not a file"):
        read_checkpoint(tmp_path)


@pytest.mark.slow
def test_full_model_refuses_a_wrong_keys_checkpoint(tmp_path):
    """Full-size SAM3 (minutes, ~7 GB): upstream's builder would load this silently with strict=False."""
    path = tmp_path / "wrong-full.pt"
    torch.save({"model": {"detector.backbone.nonsense.weight": torch.zeros(4)}}, path)
    code = ("import sys, torch, npu_compat; npu_compat.apply(device='cpu');"
            "from npu_compat.workloads.model_loading import build_model;"
            "from npu_compat.workloads.checkpoints import CheckpointError\n"
            "try:\n build_model('sam3', sys.argv[1], torch.device('cpu'))\n"
            "except CheckpointError as e:\n print('REFUSED', e); sys.exit(3)\n")
    done = subprocess.run(["flock", "/tmp/fullsize.lock", sys.executable, "-c", code, str(path)],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          timeout=1800)
    assert done.returncode == 3, done.stderr[-2000:]
    assert "not for this model" in done.stdout and "nonsense" in done.stdout
