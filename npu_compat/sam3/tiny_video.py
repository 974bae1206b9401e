"""A tiny SAM3 video model built from sam3's own classes, for tests and smoke runs.

Same classes and code paths as ``sam3.model_builder.build_sam3_video_model``: a
``Sam3VideoInferenceWithInstanceInteractivity`` holding a ``Sam3ImageOnVideoMultiGPU``
detector (ViT + dual neck *with* the SAM2 neck the tracker reads, VE text encoder, fusion
encoder, DAC decoder, geometry encoder) and a ``Sam3TrackerPredictor`` tracker (RoPE memory
attention, mask-memory encoder, SAM prompt encoder and mask decoder), at small widths.
The detector parts come from :func:`npu_compat.sam3.tiny.build_tiny_sam3_image_model`; the
tracker keeps upstream's constructor arguments except for widths and the feature grid
(patch 56 at 1008 px gives 18x18 tokens, so masks are 72x72 at low resolution).

``TinySam3VideoPredictor`` is upstream's ``Sam3VideoPredictor`` (``handle_request``,
``handle_stream_request`` and every session method are inherited unchanged) whose model is
the tiny one. Like upstream it calls ``.cuda()`` on the model, so under the shim it exercises
the same redirect a CUDA user's script does.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from npu_compat.sam3.tiny import TinyConfig, build_tiny_sam3_image_model


@dataclass(frozen=True)
class TinyVideoConfig:
    image: TinyConfig = TinyConfig()
    mem_dim: int = 16
    memory_layers: int = 1
    num_maskmem: int = 3
    mask_interpol_size: int = 288  # 288 / total stride 16 = the 18x18 feature grid
    # upstream uses 0.5 / 0.7; random weights rarely pass them, so the tiny model detects from 0
    score_threshold_detection: float = 0.0
    new_det_thresh: float = 0.0


def _tracker(c: TinyVideoConfig) -> Any:
    from sam3.model.decoder import TransformerDecoderLayerv2, TransformerEncoderCrossAttention
    from sam3.model.memory import CXBlock, SimpleFuser, SimpleMaskDownSampler, SimpleMaskEncoder
    from sam3.model.model_misc import TransformerWrapper
    from sam3.model.position_encoding import PositionEmbeddingSine
    from sam3.model.sam3_tracking_predictor import Sam3TrackerPredictor
    from sam3.sam.transformer import RoPEAttention

    d, grid = c.image.d_model, c.image.resolution // c.image.patch_size
    mem_pos = PositionEmbeddingSine(num_pos_feats=c.mem_dim, normalize=True, scale=None, temperature=10000,
                                    precompute_resolution=c.image.resolution)
    maskmem = SimpleMaskEncoder(
        out_dim=c.mem_dim, in_dim=d, position_encoding=mem_pos,
        mask_downsampler=SimpleMaskDownSampler(embed_dim=d, kernel_size=3, stride=2, padding=1,
                                               interpol_size=[c.mask_interpol_size, c.mask_interpol_size]),
        fuser=SimpleFuser(layer=CXBlock(dim=d, kernel_size=7, padding=3, layer_scale_init_value=1e-6,
                                        use_dwconv=True), num_layers=1),
    )
    self_attn = RoPEAttention(embedding_dim=d, num_heads=1, downsample_rate=1, dropout=0.0, rope_theta=10000.0,
                              feat_sizes=[grid, grid], use_fa3=False, use_rope_real=False)
    cross_attn = RoPEAttention(embedding_dim=d, num_heads=1, downsample_rate=1, dropout=0.0, kv_in_dim=c.mem_dim,
                               rope_theta=10000.0, feat_sizes=[grid, grid], rope_k_repeat=True, use_fa3=False,
                               use_rope_real=False)
    layer = TransformerDecoderLayerv2(
        cross_attention_first=False, activation="relu", dim_feedforward=c.image.ffn_dim, dropout=0.0,
        pos_enc_at_attn=False, pre_norm=True, self_attention=self_attn, d_model=d, pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False, cross_attention=cross_attn,
    )
    encoder = TransformerEncoderCrossAttention(
        remove_cross_attention_layers=[], batch_first=True, d_model=d, frozen=False, pos_enc_at_input=True,
        layer=layer, num_layers=c.memory_layers, use_act_checkpoint=False,
    )
    return Sam3TrackerPredictor(
        image_size=c.image.resolution, num_maskmem=c.num_maskmem, backbone=None, backbone_stride=c.image.patch_size,
        transformer=TransformerWrapper(encoder=encoder, decoder=None, d_model=d), maskmem_backbone=maskmem,
        multimask_output_in_sam=True, forward_backbone_per_frame_for_eval=True, trim_past_non_cond_mem_for_eval=False,
        multimask_output_for_tracking=True, multimask_min_pt_num=0, multimask_max_pt_num=1,
        always_start_from_first_ann_frame=False, non_overlap_masks_for_mem_enc=False,
        non_overlap_masks_for_output=False, max_cond_frames_in_attn=4, offload_output_to_cpu_for_eval=False,
        sam_mask_decoder_extra_args={"dynamic_multimask_via_stability": True,
                                     "dynamic_multimask_stability_delta": 0.05,
                                     "dynamic_multimask_stability_thresh": 0.98},
        clear_non_cond_mem_around_input=True, fill_hole_area=0, use_memory_selection=True,
    )


def _detector(image_model: Any, c: TinyVideoConfig) -> Any:
    """The image model's parts, with a dual neck that also has the SAM2 neck the tracker reads."""
    from sam3.model.necks import Sam3DualViTDetNeck
    from sam3.model.sam3_image import Sam3ImageOnVideoMultiGPU
    from sam3.model.vl_combiner import SAM3VLBackbone

    old_neck = image_model.backbone.vision_backbone
    neck = Sam3DualViTDetNeck(position_encoding=old_neck.position_encoding, d_model=c.image.d_model,
                              scale_factors=[4.0, 2.0, 1.0, 0.5], trunk=old_neck.trunk, add_sam2_neck=True)
    backbone = SAM3VLBackbone(scalp=1, visual=neck, text=image_model.backbone.language_backbone)
    return Sam3ImageOnVideoMultiGPU(
        num_feature_levels=1, backbone=backbone, transformer=image_model.transformer,
        segmentation_head=image_model.segmentation_head, semantic_segmentation_head=None,
        input_geometry_encoder=image_model.geometry_encoder, use_early_fusion=True, use_dot_prod_scoring=True,
        dot_prod_scoring=image_model.dot_prod_scoring, supervise_joint_box_scores=True,
    )


def build_tiny_sam3_video_model(
    seed: int = 0,
    device: str | torch.device | None = None,
    bpe_path: str | None = None,
    config: TinyVideoConfig = TinyVideoConfig(),
) -> torch.nn.Module:
    """Build, seed and initialise a tiny ``Sam3VideoInferenceWithInstanceInteractivity`` in eval mode.

    Heuristics are upstream's (``apply_temporal_disambiguation=True``) except ``hotstart_delay=0``,
    so short test clips yield outputs from frame 0, and the detection thresholds, which default
    to 0 so that random weights still produce objects to track (see :class:`TinyVideoConfig`).
    """
    from sam3.model.sam3_video_inference import Sam3VideoInferenceWithInstanceInteractivity

    image_model = build_tiny_sam3_image_model(seed=seed, bpe_path=bpe_path, config=config.image)
    torch.manual_seed(seed + 2)
    detector = _detector(image_model, config)
    tracker = _tracker(config)
    model = Sam3VideoInferenceWithInstanceInteractivity(
        detector=detector, tracker=tracker, score_threshold_detection=config.score_threshold_detection,
        assoc_iou_thresh=0.1, det_nms_thresh=0.1, new_det_thresh=config.new_det_thresh, hotstart_delay=0, hotstart_unmatch_thresh=8, hotstart_dup_thresh=8,
        suppress_unmatched_only_within_hotstart=True, min_trk_keep_alive=-1, max_trk_keep_alive=30,
        init_trk_keep_alive=30, suppress_overlapping_based_on_recent_occlusion_threshold=0.7,
        suppress_det_close_to_boundary=False, fill_hole_area=16, recondition_every_nth_frame=16,
        masklet_confirmation_enable=False, decrease_trk_keep_alive_for_empty_masklets=False,
        image_size=config.image.resolution, image_mean=(0.5, 0.5, 0.5), image_std=(0.5, 0.5, 0.5),
        compile_model=False,
    )
    model.eval()
    if device is not None:
        model = model.to(device)
    return model


def tiny_video_predictor_class() -> type:
    """``TinySam3VideoPredictor``: upstream's ``Sam3VideoPredictor`` around the tiny model.

    Built on first use so that importing this module imports no sam3.
    """
    from sam3.model.sam3_video_predictor import Sam3VideoPredictor

    class TinySam3VideoPredictor(Sam3VideoPredictor):
        def __init__(self, seed: int = 0, bpe_path: str | None = None, async_loading_frames: bool = False,
                     video_loader_type: str = "cv2") -> None:
            super(Sam3VideoPredictor, self).__init__()  # sam3@96914d2's Sam3BasePredictor keeps the session table
            self.async_loading_frames = async_loading_frames
            self.video_loader_type = video_loader_type
            self.model = build_tiny_sam3_video_model(seed=seed, bpe_path=bpe_path).cuda().eval()

    return TinySam3VideoPredictor


__all__ = ["TinyVideoConfig", "build_tiny_sam3_video_model", "tiny_video_predictor_class"]
