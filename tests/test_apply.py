"""The CLI: ``python -m npu_compat.apply``. Runs the real tiny SAM3 in subprocesses."""
import json
import linecache
import math
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_python

DEMO = str(ROOT / "npu_compat" / "commands" / "sam3_demo.py")  # the code that tools/sam3_demo.py runs


def _finite(values):
    return all(math.isfinite(v) for v in values)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(out / "report.json"), "--",
                      str(ROOT / "tools" / "sam3_demo.py"), "--model", "tiny", "--threshold", "0", "--out", str(out))
    return proc, out


def test_cuda_user_script_runs_unmodified_on_the_cpu_target(tiny_run):
    proc, out = tiny_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "result.json").read_text())
    assert result["device"] == "cpu"
    for part in ("text", "box"):
        assert len(result[part]["scores"]) > 0
        assert _finite(result[part]["scores"]) and _finite(sum(result[part]["boxes"], []))
        assert math.isfinite(result[part]["mask_logit_mean"])
    from PIL import Image

    assert Image.open(out / "overlay.png").size == (512, 512)
    assert "npu_compat: target cpu;" in proc.stderr  # the exit summary


def test_report_names_call_sites_in_the_script_and_in_sam3_with_correct_lines(tiny_run):
    _, out = tiny_run
    calls = json.loads((out / "report.json").read_text())["calls"]
    script = {c["rule"]: c for c in calls if c["file"].endswith("npu_compat/commands/sam3_demo.py")}
    for rule in ("device.Module.cuda", "cuda.synchronize", "amp.autocast", "cuda.is_available", "sam3.processor_device"):
        assert rule in script, rule
    assert ".cuda()" in linecache.getline(DEMO, script["device.Module.cuda"]["line"])
    assert "torch.autocast(\"cuda\"" in linecache.getline(DEMO, script["amp.autocast"]["line"])
    sam3_calls = [c for c in calls if "/sam3/" in c["file"]]
    by_file = {Path(c["file"]).name: c for c in sam3_calls}
    assert {"position_encoding.py", "geometry_encoders.py", "decoder.py"} <= set(by_file)
    for c in sam3_calls:  # each recorded line really is the line with the redirected call
        assert linecache.getline(c["file"], c["line"]).strip() == c["source"]
    pe = by_file["position_encoding.py"]
    assert 'device="cuda"' in pe["source"] and pe["rule"] == "device.torch.zeros"


def test_the_same_script_without_the_shim_fails_with_the_cuda_error(tmp_path):
    proc = run_python(DEMO, "--model", "tiny", "--out", str(tmp_path))
    assert proc.returncode != 0
    assert "This script needs a CUDA GPU" in proc.stderr or "NVIDIA" in proc.stderr or "CUDA" in proc.stderr


def test_the_script_past_its_availability_check_still_fails_without_the_shim(tmp_path):
    """Even when told CUDA exists, upstream SAM3 dies on its hard-coded CUDA construction."""
    code = ("import torch; torch.cuda.is_available = lambda: True; import sys; sys.argv=['d','--model','tiny','--out',"
            f"{str(tmp_path)!r}]; import runpy; runpy.run_path({DEMO!r}, run_name='__main__')")
    proc = run_python("-c", code)
    assert proc.returncode != 0 and ("NVIDIA" in proc.stderr or "CUDA" in proc.stderr)


def assert_one_line_error(proc, *needles, prefix="npu_compat: error:"):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith(prefix), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_unknown_device_is_a_clear_error():
    """The parser refuses it (as every command's --device), before the shim or the program is touched."""
    assert_one_line_error(run_python("-m", "npu_compat.apply", "--device", "tpu", "--", DEMO), "unknown device 'tpu'",
                          "npu, cuda", prefix="python -m npu_compat.apply: error: argument --device:")


def test_npu_without_torch_npu_is_a_clear_error():
    assert_one_line_error(run_python("-m", "npu_compat.apply", "--device", "npu", "--", DEMO), "torch_npu", "env/")


def test_missing_script_is_a_clear_error():
    assert_one_line_error(run_python("-m", "npu_compat.apply", "--device", "cpu", "--", "no/such/script.py"), "not found")


def test_torch_npu_version_mismatch_is_a_clear_error(tmp_path):
    """A TEST DOUBLE of an Ascend install: only torch_npu's package metadata, no CANN, no kernels."""
    dist = tmp_path / "torch_npu-2.7.1.post2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: torch_npu\nVersion: 2.7.1.post2\n")
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--", DEMO,
                      env={"PYTHONPATH": f"{ROOT}:{tmp_path}"})
    assert_one_line_error(proc, "torch_npu 2.7.1.post2 needs torch 2.7.1", "found 2.14")


def test_module_form_sets_argv_and_main(tmp_path):
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "job.py").write_text(
        "import sys, torch\n"
        "x = torch.ones(2, device='cuda')\n"
        "print('ARGV', sys.argv[1:], __name__, x.device)\n"
        "sys.exit(3)\n")
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "-m", "userpkg.job", "a", "--b",
                      env={"PYTHONPATH": f"{ROOT}:{tmp_path}"}, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "ARGV ['a', '--b'] __main__ cpu" in proc.stdout


def test_script_form_sets_argv_path_and_main(tmp_path):
    script = tmp_path / "s.py"
    (tmp_path / "sibling.py").write_text("VALUE = 7\n")
    script.write_text("import sys, sibling\nprint('OK', sys.argv, __name__, sibling.VALUE)\n")
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--", str(script), "x")
    assert proc.returncode == 0, proc.stderr
    assert f"OK ['{script}', 'x'] __main__ 7" in proc.stdout


def test_install_status_uninstall_pth_hook(tmp_path):
    site = tmp_path / "site"
    out = run_python("-m", "npu_compat.apply", "--install", "--site-dir", str(site))
    assert out.returncode == 0 and (site / "npu_compat_autoapply.pth").exists()
    assert "hook installed" in run_python("-m", "npu_compat.apply", "--status", "--site-dir", str(site)).stdout
    probe = ("import site, sys; site.addsitedir(sys.argv[1]); import torch, npu_compat; "
             "s = npu_compat.current(); print('SHIM', s.target.type if s else None, torch.zeros(1, device='cuda').device)")
    proc = run_python("-c", probe, str(site), env={"NPU_COMPAT_DEVICE": "cpu", "NPU_COMPAT_LOG": "quiet"})
    assert proc.returncode == 0, proc.stderr
    assert "SHIM cpu cpu" in proc.stdout
    off = run_python("-c", probe.replace("print('SHIM', s.target.type if s else None, torch.zeros(1, device='cuda').device)",
                                          "print('SHIM', s)"), str(site), env={"NPU_COMPAT_DISABLE": "1"})
    assert "SHIM None" in off.stdout
    assert run_python("-m", "npu_compat.apply", "--uninstall", "--site-dir", str(site)).returncode == 0
    assert not (site / "npu_compat_autoapply.pth").exists()


def test_help_explains_usage():
    proc = run_python("-m", "npu_compat.apply", "--help")
    assert proc.returncode == 0 and "script.py" in proc.stdout and "--device" in proc.stdout


@pytest.mark.slow
def test_full_size_sam3_runs_under_the_shim(tmp_path):
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(tmp_path / "r.json"), "--",
                      DEMO, "--threshold", "0", "--out", str(tmp_path), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RANDOM WEIGHTS" in proc.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert len(result["text"]["scores"]) == 200 and _finite(result["text"]["scores"])


def test_a_directory_as_the_script_runs_its_main_or_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--", str(empty))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "is a directory without __main__.py" in proc.stderr
    app = tmp_path / "app"
    app.mkdir()
    (app / "__main__.py").write_text("import torch\nprint('APP', torch.ones(1, device='cuda').device)\n")
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--log-level", "quiet", "--", str(app))
    assert proc.returncode == 0 and "APP cpu" in proc.stdout, proc.stderr[-2000:]


@pytest.mark.parametrize("make, expect", [
    (lambda tmp: tmp / "a_folder", "is a folder"),
    (lambda tmp: tmp / "a_file" / "report.json", "is under the file"),
])
def test_a_report_path_that_cannot_be_written_fails_before_the_script_runs(tmp_path, make, expect):
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("keep me")
    script = tmp_path / "s.py"
    script.write_text("open(__file__ + '.ran', 'w').write('ran')\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(make(tmp_path)), "--", str(script))
    assert_one_line_error(proc, "--report", expect)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # the script did not run, no stray temp file
    assert (tmp_path / "a_file").read_text() == "keep me"


def test_the_report_gets_the_users_usual_permissions(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import torch\ntorch.zeros(1, device='cuda')\n")
    out = tmp_path / "r.json"
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--report", str(out), "--", str(script))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.stat().st_mode & 0o077, "report written 0600: mkstemp's mode leaked"
