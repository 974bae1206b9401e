"""A tiny SAM3 image model built from sam3's own classes, for tests, smoke runs and benchmarks.

Same architecture and code paths as ``build_sam3_image_model`` (ViT + dual neck, VE text
encoder, fusion encoder, DAC decoder with box RPB and presence token, pixel decoder,
geometry encoder), at small widths and depths. It keeps upstream's construction-time device
choices (position-encoding precompute and the decoder's coordinate cache), so it exercises
the same CUDA-only spots the full model does. Patch size 56 at resolution 1008 gives an
18x18 token grid, so ``Sam3Processor(model)`` with its default 1008 resolution runs in well
under a second on a CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class TinyConfig:
    resolution: int = 1008
    patch_size: int = 56
    vit_dim: int = 32
    vit_depth: int = 2
    vit_heads: int = 2
    window_size: int = 6
    d_model: int = 64
    heads: int = 2
    ffn_dim: int = 128
    encoder_layers: int = 1
    decoder_layers: int = 2
    geometry_layers: int = 1
    num_queries: int = 16
    text_width: int = 32
    text_heads: int = 2
    text_layers: int = 2


def init_uninitialised_text_params(model: nn.Module, generator: torch.Generator) -> list[str]:
    """Initialise the two text-encoder parameters sam3 creates with ``torch.empty``.

    sam3 never initialises them, so without this a random-init model can produce all-NaN outputs.
    Returns the names that were initialised.
    """
    names = []
    for name, param in model.named_parameters():
        if name.endswith(("positional_embedding", "text_projection")) and "language_backbone" in name or name.endswith(
            ("encoder.positional_embedding", "encoder.text_projection")
        ):
            with torch.no_grad():
                param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype) * 0.02)
            names.append(name)
    return names


def _attention(d: int, heads: int, dropout: float = 0.0, batch_first: bool | None = None) -> nn.Module:
    from sam3.model.model_misc import MultiheadAttentionWrapper

    kwargs: dict[str, Any] = {"num_heads": heads, "dropout": dropout, "embed_dim": d}
    if batch_first is not None:
        kwargs["batch_first"] = batch_first
    return MultiheadAttentionWrapper(**kwargs)


def _encoder_layer(c: TinyConfig, **overrides: Any) -> nn.Module:
    from sam3.model.encoder import TransformerEncoderLayer

    kwargs: dict[str, Any] = dict(
        activation="relu", d_model=c.d_model, dim_feedforward=c.ffn_dim, dropout=0.0,
        pos_enc_at_attn=True, pos_enc_at_cross_attn_keys=False, pos_enc_at_cross_attn_queries=False,
        pre_norm=True,
        self_attention=_attention(c.d_model, c.heads, batch_first=True),
        cross_attention=_attention(c.d_model, c.heads, batch_first=True),
    )
    kwargs.update(overrides)
    return TransformerEncoderLayer(**kwargs)


def build_tiny_sam3_image_model(
    seed: int = 0,
    device: str | torch.device | None = None,
    bpe_path: str | None = None,
    config: TinyConfig = TinyConfig(),
) -> nn.Module:
    """Build, seed and initialise a tiny ``Sam3Image`` in eval mode.

    ``device=None`` leaves it on the CPU; pass ``"cuda"`` (or call ``.cuda()``) the way
    a CUDA user would, and the shim sends it to the target.
    """
    from sam3.model.decoder import TransformerDecoder, TransformerDecoderLayer
    from sam3.model.encoder import TransformerEncoderFusion
    from sam3.model.geometry_encoders import SequenceGeometryEncoder
    from sam3.model.maskformer_segmentation import PixelDecoder, UniversalSegmentationHead
    from sam3.model.model_misc import MLP, DotProductScoring, TransformerWrapper
    from sam3.model.necks import Sam3DualViTDetNeck
    from sam3.model.position_encoding import PositionEmbeddingSine
    from sam3.model.sam3_image import Sam3Image
    from sam3.model.text_encoder_ve import VETextEncoder
    from sam3.model.tokenizer_ve import SimpleTokenizer
    from sam3.model.vitdet import ViT
    from sam3.model.vl_combiner import SAM3VLBackbone

    from npu_compat.sam3.vocab import find_bpe

    c = config
    torch.manual_seed(seed)
    pos = PositionEmbeddingSine(num_pos_feats=c.d_model, normalize=True, scale=None, temperature=10000,
                                precompute_resolution=c.resolution)
    vit = ViT(
        img_size=c.resolution, pretrain_img_size=c.resolution // 3, patch_size=c.patch_size, embed_dim=c.vit_dim,
        depth=c.vit_depth, num_heads=c.vit_heads, mlp_ratio=4.0, norm_layer="LayerNorm", drop_path_rate=0.0,
        qkv_bias=True, use_abs_pos=True, tile_abs_pos=True, global_att_blocks=(c.vit_depth - 1,),
        rel_pos_blocks=(), use_rope=True, use_interp_rope=True, window_size=c.window_size,
        pretrain_use_cls_token=True, retain_cls_token=False, ln_pre=True, ln_post=False,
        return_interm_layers=False, bias_patch_embed=False, compile_mode=None,
    )
    neck = Sam3DualViTDetNeck(position_encoding=pos, d_model=c.d_model, scale_factors=[4.0, 2.0, 1.0, 0.5],
                              trunk=vit, add_sam2_neck=False)
    tokenizer = SimpleTokenizer(bpe_path=str(find_bpe(bpe_path)))
    text = VETextEncoder(tokenizer=tokenizer, d_model=c.d_model, width=c.text_width, heads=c.text_heads,
                         layers=c.text_layers)
    backbone = SAM3VLBackbone(visual=neck, text=text, scalp=1)

    encoder = TransformerEncoderFusion(
        layer=_encoder_layer(c), num_layers=c.encoder_layers, d_model=c.d_model, num_feature_levels=1,
        frozen=False, use_act_checkpoint=False, add_pooled_text_to_img_feat=False, pool_text_with_mask=True,
    )
    decoder_layer = TransformerDecoderLayer(
        activation="relu", d_model=c.d_model, dim_feedforward=c.ffn_dim, dropout=0.0,
        cross_attention=_attention(c.d_model, c.heads), n_heads=c.heads, use_text_cross_attention=True,
    )
    decoder = TransformerDecoder(
        layer=decoder_layer, num_layers=c.decoder_layers, num_queries=c.num_queries, return_intermediate=True,
        box_refine=True, num_o2m_queries=0, dac=True, boxRPB="log", d_model=c.d_model, frozen=False,
        interaction_layer=None, dac_use_selfatt_ln=True, resolution=c.resolution, stride=c.patch_size,
        use_act_checkpoint=False, presence_token=True,
    )
    transformer = TransformerWrapper(encoder=encoder, decoder=decoder, d_model=c.d_model)
    scoring = DotProductScoring(
        d_model=c.d_model, d_proj=c.d_model,
        prompt_mlp=MLP(input_dim=c.d_model, hidden_dim=c.ffn_dim, output_dim=c.d_model, num_layers=2, dropout=0.0,
                       residual=True, out_norm=nn.LayerNorm(c.d_model)),
    )
    seg_head = UniversalSegmentationHead(
        hidden_dim=c.d_model, upsampling_stages=3, aux_masks=False, presence_head=False, dot_product_scorer=None,
        act_ckpt=False, cross_attend_prompt=_attention(c.d_model, c.heads),
        pixel_decoder=PixelDecoder(num_upsampling_stages=3, interpolation_mode="nearest", hidden_dim=c.d_model,
                                   compile_mode=None),
    )
    geo_pos = PositionEmbeddingSine(num_pos_feats=c.d_model, normalize=True, scale=None, temperature=10000)
    geometry = SequenceGeometryEncoder(
        pos_enc=geo_pos, encode_boxes_as_points=False, points_direct_project=True, points_pool=True,
        points_pos_enc=True, boxes_direct_project=True, boxes_pool=True, boxes_pos_enc=True, d_model=c.d_model,
        num_layers=c.geometry_layers,
        layer=_encoder_layer(c, pos_enc_at_attn=False, pos_enc_at_cross_attn_keys=True,
                             self_attention=_attention(c.d_model, c.heads, batch_first=False),
                             cross_attention=_attention(c.d_model, c.heads, batch_first=False)),
        use_act_ckpt=False, add_cls=True, add_post_encode_proj=True,
    )
    model = Sam3Image(
        backbone=backbone, transformer=transformer, input_geometry_encoder=geometry, segmentation_head=seg_head,
        num_feature_levels=1, o2m_mask_predict=True, dot_prod_scoring=scoring, use_instance_query=False,
        multimask_output=True, inst_interactive_predictor=None, matcher=None,
    )
    generator = torch.Generator().manual_seed(seed + 1)
    init_uninitialised_text_params(model, generator)
    model.eval()
    if device is not None:
        model = model.to(device)
    return model
