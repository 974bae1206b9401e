"""Graph capture on the simulated npu (a test double of torch_npu's NPUGraph): capture records the device
ops, replay re-runs them on the captured tensors' current values, and what hardware cannot capture is
refused with the op and the call site."""
from __future__ import annotations

from textwrap import dedent

import pytest

from tests.sim.conftest import run_sim

REFUSED = {
    "y.sum().item()": "a host sync: _local_scalar_dense",
    "y.cpu()": "a device-to-host copy",
    "torch.ones(2).to('npu')": "a host-to-device copy",
    "torch.nonzero(y)": "a host sync: nonzero",
    "y[y > 0]": "a host sync: index with a bool mask",
    "torch.npu.synchronize()": "a host sync",
}


@pytest.fixture(scope="module")
def graphs() -> dict:
    code = dedent("""
        torch.manual_seed(0)
        lin = torch.nn.Linear(4, 3).to("npu")
        x = torch.randn(2, 4, device="npu")
        g = torch.npu.NPUGraph()
        with torch.no_grad(), torch.npu.graph(g):
            y = torch.relu(lin(x)) * 2 + x.sum()
        out["ops"] = g.replayed_ops()
        new = torch.linspace(-1, 1, 8).reshape(2, 4)
        x.copy_(new.to("npu"))
        g.replay()
        with torch.no_grad():
            ref = torch.relu(lin.cpu()(new)) * 2 + new.sum()
        out["replayed"] = torch.allclose(y.cpu(), ref, atol=1e-6)
        out["capturing_after"] = torch.npu.is_current_stream_capturing()
        out["refused"] = {}
        for code in %r:
            g2 = torch.npu.NPUGraph()
            try:
                with torch.npu.graph(g2):
                    exec(code)
                out["refused"][code] = "no error"
            except Exception as err:
                out["refused"][code] = type(err).__name__ + ": " + str(err)
        lin = torch.nn.Linear(4, 4).to("npu")
        m = torch.nn.Sequential(lin, torch.nn.ReLU())
        graphed = torch.npu.make_graphed_callables(m, (torch.randn(2, 4, device="npu"),))
        inp = torch.randn(2, 4)
        with torch.no_grad():
            out["graphed"] = torch.allclose(graphed(inp.to("npu")).cpu(), torch.relu(lin.cpu()(inp)), atol=1e-6)
        try:
            graphed(torch.randn(3, 4, device="npu"))
            out["other_shape"] = "no error"
        except Exception as err:
            out["other_shape"] = str(err)
        import npu_compat
        npu_compat.apply(device="npu", log_level="quiet")
        g3 = torch.npu.NPUGraph()
        try:
            with torch.npu.graph(g3):
                torch.ones(2).to("cuda")  # through the shim's redirect of Tensor.to
            out["through_shim"] = "no error"
        except Exception as err:
            out["through_shim"] = str(err)
    """) % (list(REFUSED),)
    return run_sim(code)


def test_replay_reads_the_captured_inputs_current_values(graphs):
    assert graphs["ops"][:2] == ["aten::addmm", "aten::relu"] and graphs["replayed"] is True
    assert graphs["capturing_after"] is False


@pytest.mark.parametrize("code", list(REFUSED))
def test_what_hardware_cannot_capture_is_refused_with_op_and_site(graphs, code):
    text = graphs["refused"][code]
    assert text.startswith("GraphCaptureError: NPUGraph capture:"), text
    assert REFUSED[code] in text and "<string>:1" in text, text


def test_make_graphed_callables_replays_with_new_inputs_of_the_captured_shape(graphs):
    assert graphs["graphed"] is True
    assert "captured for shape (2, 4), got (3, 4)" in graphs["other_shape"]


def test_the_site_is_the_callers_line_not_the_shims_wrapper(graphs):
    text = graphs["through_shim"]
    assert "a host-to-device copy" in text and "<string>:" in text and "wrappers.py" not in text, text
