import torch

from npu_compat.sam3.tiny import TinyConfig, build_tiny_sam3_image_model, init_uninitialised_text_params


def test_tiny_model_is_sam3s_own_classes_seeded_and_finite(shim_cpu):
    from sam3.model.sam3_image import Sam3Image

    a = build_tiny_sam3_image_model(seed=3)
    b = build_tiny_sam3_image_model(seed=3)
    c = build_tiny_sam3_image_model(seed=4)
    assert isinstance(a, Sam3Image) and not a.training
    n = sum(p.numel() for p in a.parameters())
    assert 50_000 < n < 5_000_000  # tiny, vs 840 M for the full model
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    assert all(torch.isfinite(p).all() for p in a.parameters())


def test_text_params_that_torch_empty_leaves_are_initialised(shim_cpu):
    m = build_tiny_sam3_image_model()
    names = init_uninitialised_text_params(m, torch.Generator().manual_seed(0))
    assert len(names) == 2 and all(n.endswith(("positional_embedding", "text_projection")) for n in names)


def test_config_is_honoured(shim_cpu):
    m = build_tiny_sam3_image_model(config=TinyConfig(num_queries=8, decoder_layers=1))
    assert m.transformer.decoder.num_queries == 8 and len(m.transformer.decoder.layers) == 1
