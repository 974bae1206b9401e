import json

import pytest
import torch

from npu_compat.parity import ParityError
from npu_compat.parity.argspec import encode_value
from npu_compat.parity.inventory import Inventory, op_base, op_overload


def _add(inventory, tensor, run="r"):
    inventory.add("aten.relu.default", encode_value([tensor]), {}, run=run)


def test_dedupes_by_signature_and_counts():
    inventory = Inventory()
    _add(inventory, torch.ones(2, 3))
    _add(inventory, torch.zeros(2, 3), run="s")
    _add(inventory, torch.ones(3, 2))
    assert len(inventory) == 2
    first = next(iter(inventory))
    assert first.count == 2 and first.runs == ["r", "s"]
    assert first.args[0]["min"] == 0.0 and first.args[0]["max"] == 1.0
    assert inventory.op_counts() == {"aten.relu.default": 3}


def test_save_load_round_trip(tmp_path):
    inventory = Inventory(meta={"model": "x"})
    inventory.note_run("r")
    _add(inventory, torch.ones(2))
    inventory.add("aten.add.Tensor", encode_value([torch.ones(2), 2.5]), {"alpha": 2}, run="r")
    path = inventory.save(tmp_path / "inv.json")
    loaded = Inventory.load(path)
    assert [e.as_dict() for e in loaded] == [e.as_dict() for e in inventory]
    assert loaded.meta == {"model": "x"} and loaded.runs == ["r"]
    assert json.loads(path.read_text())["distinct_ops"] == 2


def test_merge_adds_counts():
    a, b = Inventory(), Inventory()
    b.note_run("b")
    _add(a, torch.ones(2), "a")
    _add(b, torch.ones(2), "b")
    _add(b, torch.ones(4), "b")
    a.merge(b)
    entries = list(a)
    assert [e.count for e in entries] == [2, 1]
    assert entries[0].runs == ["a", "b"] and a.runs == ["b"]


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(ParityError, match="not found"):
        Inventory.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(ParityError, match="not a parity inventory"):
        Inventory.load(bad)


def test_op_names():
    assert op_base("aten.add_.Tensor") == "add_"
    assert op_overload("aten.add.Tensor") == "add.Tensor"
    assert op_overload("aten.relu.default") == "relu"
