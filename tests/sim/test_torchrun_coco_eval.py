"""coco_eval under torchrun with 2 ranks and no --device on the simulated npu (a test double of
the Ascend stack): each rank takes its own device (npu:0, npu:1), hccl barriers run (as gloo on
the host), and the shards cover the set."""
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.sim.conftest import SIM

TOOL = str(ROOT / "tools" / "coco_eval.py")


def test_two_ranks_land_on_npu_0_and_npu_1(coco_mini, tmp_path):
    ann, images = coco_mini
    out, logs = tmp_path / "preds.json", tmp_path / "sim"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", NPU_COMPAT_SIM_LOG=str(logs))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", "29561", TOOL, "--coco-ann", str(ann), "--coco-img", str(images),
                           "--output-json", str(out), "--model", "tiny", "--warmup", "0", "--no-progress",
                           "--prompt-batch", "3", "--simulate", SIM], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = {}
    for path in logs.glob("sim-*.json"):
        data = json.loads(path.read_text())
        if data["rank"] is not None:
            ranks[data["rank"]] = data
    assert sorted(ranks) == ["0", "1"]
    assert ranks["0"]["devices_used"] == ["npu:0"] and ranks["1"]["devices_used"] == ["npu:1"]
    assert all(r["backend"] == "simulated npu (torch_npu 2.7.1.post2)" for r in ranks.values())
    assert all(r["counters"]["run"]["ops"] > 0 for r in ranks.values())
    parts = sorted(p.name for p in Path(f"{out}.parts").glob("rank-*.jsonl"))
    assert parts == ["rank-0.jsonl", "rank-1.jsonl"]
    assert {r["image_id"] for r in json.loads(out.read_text())} == {1, 2, 3, 4}
