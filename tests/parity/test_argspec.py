import math

import torch

from npu_compat.parity.argspec import (TensorRecipe, encode_value, merge_ranges, regenerate, strip_ranges,
                                       value_hint)


def test_tensor_spec_keeps_layout_and_range():
    base = torch.arange(24.0).reshape(4, 6)
    view = base[1:, ::2]
    spec = encode_value(view)
    assert spec["shape"] == [3, 3] and spec["stride"] == [6, 2] and spec["offset"] == 6
    assert spec["storage"] == 24 and spec["min"] == 6.0 and spec["max"] == 22.0
    recipe = regenerate(spec, torch.Generator().manual_seed(0))
    rebuilt = recipe.build("cpu")
    assert rebuilt.shape == view.shape and rebuilt.stride() == view.stride()
    assert rebuilt.storage_offset() == 6
    assert float(rebuilt.min()) >= 6.0 and float(rebuilt.max()) <= 22.0


def test_owned_tensor_is_not_a_view():
    recipe = regenerate(encode_value(torch.zeros(2, 3)), torch.Generator().manual_seed(0))
    tensor = recipe.build("cpu")
    tensor.detach_()  # raises on views
    assert not tensor._is_view()


def test_scalars_and_enums_round_trip():
    values = [3, 2.5, True, None, "same", [1, 2], torch.float16, torch.device("cpu"),
              torch.strided, torch.channels_last, 1 + 2j]
    spec = encode_value(values)
    back = regenerate(spec, torch.Generator())
    assert back == values
    assert math.isinf(regenerate(encode_value(float("-inf")), torch.Generator()))


def test_float_override_changes_only_fp32():
    spec = encode_value([torch.zeros(2), torch.zeros(2, dtype=torch.int64), torch.float32])
    out = regenerate(spec, torch.Generator(), float_dtype_override=torch.bfloat16)
    assert out[0].base.dtype == torch.bfloat16 and out[1].base.dtype == torch.int64
    assert out[2] == torch.bfloat16


def test_index_hint_keeps_indices_in_range_without_recorded_range():
    weight = encode_value(torch.zeros(7, 3), record_range=False)
    indices = encode_value(torch.zeros(50, dtype=torch.int64), record_range=False)
    hint = value_hint("embedding", 1, [weight, indices])
    made = regenerate(indices, torch.Generator().manual_seed(1), hint).build("cpu")
    assert int(made.min()) >= 0 and int(made.max()) <= 6
    positive = regenerate(encode_value(torch.zeros(100), record_range=False), torch.Generator(),
                          value_hint("rsqrt", 0, [])).build("cpu")
    assert float(positive.min()) > 0


def test_ranges_are_not_part_of_the_signature_and_merge_widens():
    a, b = encode_value(torch.tensor([0.0, 1.0])), encode_value(torch.tensor([-2.0, 0.5]))
    assert strip_ranges(a) == strip_ranges(b) and a != b
    merge_ranges(a, b)
    assert (a["min"], a["max"]) == (-2.0, 1.0)


def test_recipe_builds_same_values_in_wider_dtype():
    recipe = regenerate(encode_value(torch.randn(5, dtype=torch.bfloat16)), torch.Generator().manual_seed(3))
    assert isinstance(recipe, TensorRecipe)
    narrow, wide = recipe.build("cpu"), recipe.build("cpu", torch.float32)
    assert torch.equal(narrow.float(), wide)
