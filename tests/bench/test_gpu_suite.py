"""``tools/bench.py gpu``: the plan, the dry run on a machine without a GPU, and the refusal to start without one."""
import pytest
import torch

from npu_compat.bench import gpu_suite
from npu_compat.bench.suite import SUITE
from npu_compat.sam3 import revision
from tests.conftest import ROOT, run_python


def test_every_planned_step_is_a_suite_benchmark_sized_for_the_gpu():
    config = gpu_suite.gpu_config("sam3", ["tools/bench.py", "gpu"])
    names = [step.name for step in gpu_suite.gpu_plan(config)]
    assert names == ["image", "capture", "coco-prompts", "video", "counts"] and set(names) <= set(SUITE)
    assert config.video_size == (480, 854) and config.prompts == 80 and config.dtypes[0] == "bf16"


def test_missing_packages_are_named(monkeypatch):
    monkeypatch.setattr(gpu_suite.importlib.util, "find_spec", lambda name: None if name == "iopath" else object())
    assert gpu_suite.missing(gpu_suite.CARRIED_WHEELS) == ["iopath"]


def test_dry_run_lists_the_plan_and_writes_nothing(tmp_path):
    out = tmp_path / "gpu.json"
    proc = run_python(str(ROOT / "tools" / "bench.py"), "gpu", "--dry-run", "--json", str(out), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for text in ("image", "coco-prompts", "80 prompts", "854x480", "video", "counts", "pip wheel --no-deps",
                 "sam3==0.1.4", "iopath", "captured path (CUDA graphs", "sam3 here: sam3==0.1.4",
                 "run the suite a second time with 'PYTHONPATH=<a sam3@96914d2 tree>"):
        assert text in proc.stdout, text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without a GPU")
def test_without_a_gpu_it_refuses_in_one_line_and_writes_nothing(tmp_path):
    proc = run_python(str(ROOT / "tools" / "bench.py"), "gpu", "--json", str(tmp_path / "gpu.json"), "--update-doc",
                      str(tmp_path / "doc.md"), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "no CUDA GPU" in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rev", [revision.WHEEL, revision.SAM31])
def test_the_plan_names_the_sam3_it_runs_and_how_to_get_the_other(monkeypatch, rev):
    monkeypatch.setattr(revision, "detect_revision", lambda: rev)  # read by video_version
    monkeypatch.setattr(gpu_suite, "detect_revision", lambda: rev)
    text = gpu_suite.plan_text(gpu_suite.gpu_config("sam3", ["tools/bench.py", "gpu"]))
    video = next(line for line in text.splitlines() if line.startswith("  4. video:"))
    assert rev in video and ("SAM 3.1 multiplex" in video) == (rev == revision.SAM31)
    other = revision.WHEEL if rev == revision.SAM31 else revision.SAM31
    assert f"'gpu <step> {rev}'" in text and f"'gpu <step> {other}'" in text
    assert ("PYTHONPATH=<a sam3@96914d2 tree>" in text) == (rev == revision.WHEEL)
    assert ("archive 96914d2" in text) == (rev == revision.WHEEL)  # the 3.1 tree travels as a folder
    assert gpu_suite.block_name("video", rev) != gpu_suite.block_name("video", other)


def test_dry_run_on_the_sam31_tree_names_it(sam31_env, tmp_path):
    proc = run_python(str(ROOT / "tools" / "bench.py"), "gpu", "--dry-run", cwd=tmp_path, env=sam31_env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "SAM 3.1 multiplex video predictor (sam3@96914d2)" in proc.stdout
    assert "without the sam3@96914d2 tree on PYTHONPATH" in proc.stdout
