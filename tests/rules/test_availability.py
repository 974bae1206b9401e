import torch

from npu_compat.rules.availability import EXCLUDED_CALLERS, is_excluded


def _call_from_module(module_name: str) -> bool:
    """Call torch.cuda.is_available() from code whose module is ``module_name``."""
    namespace = {"__name__": module_name, "torch": torch}
    exec(compile("def probe():\n    return torch.cuda.is_available()\n", f"<{module_name}>", "exec"), namespace)
    return namespace["probe"]()


def test_script_sees_true_and_excluded_libraries_see_the_truth(shim_cpu, monkeypatch):
    truth = torch.cuda.is_available.__wrapped__()
    assert truth is False  # no GPU here: the difference below is observable
    assert torch.cuda.is_available() is True  # this test module is "the script"
    for lib in ("triton.runtime.driver", "accelerate.utils", "transformers.utils.import_utils", "torch.cuda"):
        assert _call_from_module(lib) is truth, lib
    assert _call_from_module("my_project.train") is True
    sites = [c for c in shim_cpu.report.calls() if c["rule"] == "cuda.is_available"]
    assert sites and all(not c["file"].startswith("<triton") for c in sites)


def test_policy_options(monkeypatch):
    import npu_compat

    npu_compat.revert()
    npu_compat.apply(device="cpu", cuda_available="false", truthful=("my_project",))
    try:
        assert torch.cuda.is_available() is False
    finally:
        npu_compat.revert()
    npu_compat.apply(device="cpu", truthful=("my_project",))
    try:
        assert _call_from_module("my_project.train") is False  # opted into the truth
        assert _call_from_module("other.mod") is True
    finally:
        npu_compat.revert()


def test_exclusion_matching_is_on_module_boundaries():
    assert is_excluded("torch", EXCLUDED_CALLERS) and is_excluded("torch.nn.modules", EXCLUDED_CALLERS)
    assert not is_excluded("torchmetrics", EXCLUDED_CALLERS) and not is_excluded("my_torch", EXCLUDED_CALLERS)
