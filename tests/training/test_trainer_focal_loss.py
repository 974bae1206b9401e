"""The trainer's focal loss through the shim: upstream ``loss_fns.sigmoid_focal_loss(triton=True)``
(now the kit's triton-free kernel) against upstream's own ``triton=False`` torch path, in values
and gradients, for every reduction the trainer's losses use. Runs in a fresh shimmed process, so
``loss_fns`` imports with the kernel swapped in."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import run_python
from tests.training.trainer_runs import needs_train_extra

pytestmark = needs_train_extra

SCRIPT = '''
import sys
import torch
from sam3.train.loss import loss_fns
assert sys.modules["sam3.train.loss.sigmoid_focal_loss"].__name__ == "npu_compat.sam3.kernels.sigmoid_focal_loss"
gen = torch.Generator().manual_seed(0)
cases = 0
for shape, multimask in (((4, 200), False), ((2, 3, 16, 16), True), ((5, 7), False)):
    for reduce in (True, False):
        for alpha, gamma in ((0.25, 2), (0.5, 2), (0.9, 1.5)):
            logits = (4 * torch.randn(shape, generator=gen))
            targets = (torch.rand(shape, generator=gen) < 0.3).float()
            mine, ref = logits.clone().requires_grad_(), logits.clone().requires_grad_()
            kwargs = dict(num_boxes=3.0, alpha=alpha, gamma=gamma, loss_on_multimask=multimask, reduce=reduce)
            out = loss_fns.sigmoid_focal_loss(mine, targets, triton=True, **kwargs)
            expected = loss_fns.sigmoid_focal_loss(ref, targets, triton=False, **kwargs)
            torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
            weight = torch.randn(out.shape, generator=gen)
            (out * weight).sum().backward()
            (expected * weight).sum().backward()
            torch.testing.assert_close(mine.grad, ref.grad, rtol=1e-4, atol=1e-6)
            cases += 1
print("cases", cases)
'''


def test_triton_path_equals_upstreams_torch_path(tmp_path: Path) -> None:
    script = tmp_path / "focal.py"
    script.write_text(SCRIPT)
    done = run_python("-m", "npu_compat.apply", "--device", "cpu", "--", str(script), timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cases 18" in done.stdout
