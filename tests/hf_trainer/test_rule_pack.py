"""The hf_trainer pack: ``TrainingArguments(bf16=True)`` written for a GPU, built on the cpu target."""

import pytest
import torch

from tests.conftest import cpu_shim as shim

transformers = pytest.importorskip("transformers")


def test_bf16_training_arguments_need_a_gpu_without_the_shim(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: transformers accepts bf16 here")
    with pytest.raises(ValueError, match="Your setup doesn't support bf16/gpu"):
        transformers.TrainingArguments(output_dir=str(tmp_path), bf16=True, report_to=[])


@pytest.mark.parametrize("policy, bf16", [("keep", True), ("fp32", False)])
def test_bf16_training_arguments_run_on_the_cpu_under_the_autocast_policy(tmp_path, policy, bf16):
    with shim(autocast=policy) as session:
        args = transformers.TrainingArguments(output_dir=str(tmp_path), bf16=True, report_to=[])
        assert (args.device.type, args.n_gpu, args.use_cpu, args.bf16) == ("cpu", 0, True, bf16)
        site = [c for c in session.report.calls() if c["rule"] == "hf_trainer.TrainingArguments.bf16"]
    assert len(site) == 1 and site[0]["file"] == __file__, site
    assert site[0]["new"] == "use_cpu=True, " + ("bf16" if bf16 else "fp32 (autocast off)")


def test_the_pack_leaves_fp32_arguments_and_other_targets_alone(tmp_path):
    with shim() as session:
        args = transformers.TrainingArguments(output_dir=str(tmp_path), report_to=[])
        assert not args.use_cpu and not args.bf16
        assert not [c for c in session.report.calls() if c["rule"].startswith("hf_trainer")]
    with shim(packs_off=("hf_trainer",)), pytest.raises(ValueError, match="bf16/gpu"):
        transformers.TrainingArguments(output_dir=str(tmp_path), bf16=True, report_to=[])
