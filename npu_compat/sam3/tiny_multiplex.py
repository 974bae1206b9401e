"""A tiny SAM 3.1 multiplex video predictor built from sam3@96914d2's own classes, for tests.

Same classes and wiring as upstream's ``build_sam3_multiplex_video_predictor`` (what
``build_sam3_predictor(version="sam3.1")`` returns): a ``Sam3MultiplexVideoPredictor`` around a
``Sam3MultiplexTrackingWithInteractivity`` holding

- a ``Sam3MultiplexPredictorWrapper`` tracker around a ``Sam3VideoTrackingMultiplexDemo``
  (multiplex mask-memory encoder, decoupled RoPE memory attention, ``MultiplexController``);
- a ``Sam3MultiplexDetector`` (ViT + tri-head neck, VE text encoder, fusion encoder, DAC decoder,
  geometry encoder), its parts from :func:`npu_compat.sam3.tiny.build_tiny_sam3_image_model`;

at small widths: patch 56 at 1008 px gives an 18x18 feature grid. Upstream's constructor
arguments are kept except widths, the grid, the detection thresholds (0, so random weights still
give objects to track) and ``hotstart_delay`` (0, so short clips yield outputs from frame 0).
``use_fa3`` and ``use_rope_real`` default to upstream's (True), so the FA3/fp8 attention and the
real-valued RoPE run as in the full model; the model is moved with ``.cuda()`` as upstream does.

Only importable where sam3 is 3.1 (sam3@96914d2); the 0.1.4 wheel has none of these classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from npu_compat.sam3.tiny import TinyConfig, build_tiny_sam3_image_model, init_uninitialised_text_params


@dataclass(frozen=True)
class TinyMultiplexConfig:
    image: TinyConfig = TinyConfig()
    memory_layers: int = 1
    num_maskmem: int = 3
    multiplex_count: int = 4
    max_num_objects: int = 4
    score_threshold_detection: float = 0.0  # upstream 0.4
    new_det_thresh: float = 0.0  # upstream 0.65
    use_fa3: bool = True
    use_rope_real: bool = True
    compile: bool = False  # upstream's compile=True: the multiplex model's compile_model (torch.compile at propagation)


def _grid(c: TinyMultiplexConfig) -> int:
    return c.image.resolution // c.image.patch_size


def _tri_neck(trunk: Any, c: TinyMultiplexConfig) -> Any:
    from sam3.model.necks import Sam3TriViTDetNeck
    from sam3.model.position_encoding import PositionEmbeddingSine

    pos = PositionEmbeddingSine(num_pos_feats=c.image.d_model, normalize=True, scale=None, temperature=10000,
                                precompute_resolution=c.image.resolution)
    return Sam3TriViTDetNeck(trunk=trunk, position_encoding=pos, d_model=c.image.d_model,
                             scale_factors=[4.0, 2.0, 1.0])


def _vit(c: TinyMultiplexConfig) -> Any:
    from sam3.model.vitdet import ViT

    i = c.image
    return ViT(
        img_size=i.resolution, pretrain_img_size=i.resolution // 3, patch_size=i.patch_size, embed_dim=i.vit_dim,
        depth=i.vit_depth, num_heads=i.vit_heads, mlp_ratio=4.625, norm_layer="LayerNorm", drop_path_rate=0.0,
        qkv_bias=True, use_abs_pos=True, tile_abs_pos=True, global_att_blocks=(i.vit_depth - 1,), rel_pos_blocks=(),
        use_rope=True, use_interp_rope=True, window_size=i.window_size, pretrain_use_cls_token=True,
        retain_cls_token=False, ln_pre=True, ln_post=False, return_interm_layers=False, bias_patch_embed=False,
        compile_mode=None, use_fa3=c.use_fa3, use_rope_real=c.use_rope_real,
    )


def _tracker_model(c: TinyMultiplexConfig) -> Any:
    from sam3.model.decoder import (DecoupledTransformerDecoderLayerv2, SimpleRoPEAttention,
                                    TransformerEncoderDecoupledCrossAttention)
    from sam3.model.memory import CXBlock, SimpleFuser, SimpleMaskDownSampler, SimpleMaskEncoder
    from sam3.model.model_misc import TransformerWrapper
    from sam3.model.multiplex_utils import MultiplexController
    from sam3.model.position_encoding import PositionEmbeddingSine
    from sam3.model.video_tracking_multiplex_demo import Sam3VideoTrackingMultiplexDemo
    from sam3.model.vl_combiner import TriHeadVisionOnly

    d, grid, i = c.image.d_model, _grid(c), c.image
    maskmem = SimpleMaskEncoder(
        out_dim=d, in_dim=d,
        position_encoding=PositionEmbeddingSine(num_pos_feats=d, normalize=True, scale=None, temperature=10000,
                                                precompute_resolution=i.resolution),
        mask_downsampler=SimpleMaskDownSampler(embed_dim=d, kernel_size=3, stride=2, padding=1,
                                               interpol_size=[grid * 16, grid * 16], multiplex_count=c.multiplex_count,
                                               starting_out_chan=4, input_channel_multiplier=2),
        fuser=SimpleFuser(layer=CXBlock(dim=d, kernel_size=7, padding=3, layer_scale_init_value=1.0e-06,
                                        use_dwconv=True), num_layers=1),
    )
    rope = dict(d_model=d, num_heads=i.heads, dropout_p=0.0, rope_theta=10000.0, feat_sizes=[grid, grid],
                use_fa3=c.use_fa3, use_rope_real=c.use_rope_real)
    layer = DecoupledTransformerDecoderLayerv2(
        activation="gelu", d_model=d, num_heads=i.heads, dropout=0.0, dim_feedforward=i.ffn_dim,
        pos_enc_at_attn=False, pre_norm=True, pos_enc_at_cross_attn_keys=True, pos_enc_at_cross_attn_queries=False,
        self_attention_rope=SimpleRoPEAttention(**rope),
        cross_attention_rope=SimpleRoPEAttention(**rope, rope_k_repeat=True),
    )
    encoder = TransformerEncoderDecoupledCrossAttention(
        d_model=d, frozen=False, pos_enc_at_input=True, use_image_in_output=False, layer=layer,
        num_layers=c.memory_layers, use_act_checkpoint=False, batch_first=True,
    )
    return Sam3VideoTrackingMultiplexDemo(
        backbone=TriHeadVisionOnly(visual=_tri_neck(_vit(c), c), n_features=d, scalp=0),
        transformer=TransformerWrapper(encoder=encoder, decoder=None, d_model=d),
        maskmem_backbone=maskmem,
        multiplex_controller=MultiplexController(multiplex_count=c.multiplex_count,
                                                 eval_multiplex_count=c.multiplex_count),
        image_size=i.resolution, backbone_stride=i.patch_size, num_maskmem=c.num_maskmem,
        use_high_res_features_in_sam=True, use_obj_ptrs_in_encoder=True, max_obj_ptrs_in_encoder=16,
        add_tpos_enc_to_obj_ptrs=True, proj_tpos_enc_in_obj_ptrs=True, use_mlp_for_obj_ptr_proj=True,
        pred_obj_scores=True, pred_obj_scores_mlp=True, fixed_no_obj_ptr=True, use_no_obj_ptr=True,
        use_linear_no_obj_ptr=True, no_obj_embed_spatial=True, sincos_tpos_enc=True,
        multimask_output_in_sam=True, multimask_output_for_tracking=True, multimask_min_pt_num=0,
        multimask_max_pt_num=1, use_multimask_token_for_obj_ptr=True, num_multimask_outputs=3,
        apply_sigmoid_to_mask_logits_for_mem_enc=True, sigmoid_scale_for_mem_enc=2.0, sigmoid_bias_for_mem_enc=-1.0,
        non_overlap_masks_for_mem_enc=False, add_output_suppression_embeddings=True,
        add_object_conditional_embeddings=False, condition_as_mask_input=True, condition_as_mask_input_fg=1.0,
        condition_as_mask_input_bg=0.0, use_maskmem_tpos_v2=True, save_image_features=True, randomness_fix=True,
        use_mask_input_as_output_without_sam=True, directly_add_no_mem_embed=True, iou_prediction_use_sigmoid=False,
        forward_backbone_per_frame_for_eval=True, offload_output_to_cpu_for_eval=False,
        trim_past_non_cond_mem_for_eval=False, max_cond_frames_in_attn=4, is_dynamic_model=True,
        sam_mask_decoder_extra_args={"dynamic_multimask_via_stability": True,
                                     "dynamic_multimask_stability_delta": 0.05,
                                     "dynamic_multimask_stability_thresh": 0.98},
        compile_all_components=False, use_memory_selection=False,
    )


def _detector(c: TinyMultiplexConfig, seed: int, bpe_path: str | None) -> Any:
    from sam3.model.sam3_multiplex_detector import Sam3MultiplexDetector
    from sam3.model.vl_combiner import SAM3VLBackboneTri

    image = build_tiny_sam3_image_model(seed=seed, bpe_path=bpe_path, config=c.image)
    for module in image.modules():  # upstream builds the detector's attention with use_fa3 too (tiny.py predates it)
        if hasattr(module, "use_fa3"):
            module.use_fa3 = c.use_fa3
    backbone = SAM3VLBackboneTri(scalp=0, visual=_tri_neck(_vit(c), c), text=image.backbone.language_backbone)
    return Sam3MultiplexDetector(
        num_feature_levels=1, backbone=backbone, transformer=image.transformer,
        segmentation_head=image.segmentation_head, semantic_segmentation_head=None,
        input_geometry_encoder=image.geometry_encoder, use_early_fusion=True, use_dot_prod_scoring=True,
        dot_prod_scoring=image.dot_prod_scoring, supervise_joint_box_scores=True, is_multiplex=True,
    )


def build_tiny_sam3_multiplex_model(seed: int = 0, bpe_path: str | None = None,
                                    config: TinyMultiplexConfig = TinyMultiplexConfig()) -> torch.nn.Module:
    """A seeded tiny ``Sam3MultiplexTrackingWithInteractivity`` on the CPU, in eval mode."""
    from sam3.model.sam3_multiplex_base import Sam3MultiplexPredictorWrapper
    from sam3.model.sam3_multiplex_tracking import Sam3MultiplexTrackingWithInteractivity

    c = config
    torch.manual_seed(seed)
    tracker_model = _tracker_model(c)
    del tracker_model.backbone
    tracker_model.backbone = None  # as upstream: the detector's tri-head neck feeds the tracker
    tracker = Sam3MultiplexPredictorWrapper(model=tracker_model, per_obj_inference=False, fill_hole_area=0,
                                            is_multiplex=True, is_multiplex_dynamic=True)
    detector = _detector(c, seed, bpe_path)
    model = Sam3MultiplexTrackingWithInteractivity(
        tracker=tracker, detector=detector, score_threshold_detection=c.score_threshold_detection,
        det_nms_thresh=0.1, det_nms_use_iom=True, assoc_iou_thresh=0.1, new_det_thresh=c.new_det_thresh,
        hotstart_delay=0, hotstart_unmatch_thresh=8, hotstart_dup_thresh=8,
        suppress_unmatched_only_within_hotstart=False, suppress_overlapping_based_on_recent_occlusion_threshold=0.7,
        suppress_det_close_to_boundary=True, fill_hole_area=0, recondition_every_nth_frame=16,
        use_iom_recondition=True, iom_thresh_recondition=0.5, masklet_confirmation_enable=True,
        reconstruction_bbox_iou_thresh=-1, reconstruction_bbox_det_score=0.8, max_num_objects=c.max_num_objects,
        postprocess_batch_size=16, use_batched_grounding=True, batched_grounding_batch_size=16, max_num_kboxes=0,
        sprinkle_removal_area=0, is_multiplex=True, image_size=c.image.resolution, image_mean=(0.5, 0.5, 0.5),
        image_std=(0.5, 0.5, 0.5), compile_model=c.compile,
    )
    init_uninitialised_text_params(model, torch.Generator().manual_seed(seed + 1))
    return model.eval()


def build_tiny_sam3_multiplex_predictor(seed: int = 0, bpe_path: str | None = None,
                                        config: TinyMultiplexConfig = TinyMultiplexConfig(),
                                        async_loading_frames: bool = False) -> Any:
    """Upstream's ``Sam3MultiplexVideoPredictor`` around the tiny model, moved with ``.cuda()`` as upstream does."""
    from sam3.model.sam3_multiplex_video_predictor import Sam3MultiplexVideoPredictor

    model = build_tiny_sam3_multiplex_model(seed=seed, bpe_path=bpe_path, config=config)
    model.cuda().eval()
    return Sam3MultiplexVideoPredictor(model=model, default_output_prob_thresh=0.0,
                                       async_loading_frames=async_loading_frames)


__all__ = ["TinyMultiplexConfig", "build_tiny_sam3_multiplex_model", "build_tiny_sam3_multiplex_predictor"]
