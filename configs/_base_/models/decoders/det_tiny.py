# Tiny detection/segmentation/grounding decoder: det_swin_t.py's structure (VisionLLM v2's Grounding
# DINO, link embeddings in place of BERT) shrunk for CPU tests and the embedded ShapesWorld
# benchmark, random init. d stays 256 (mmdet's DINO decoder hard-codes 256-d sine embeddings); the
# model is made small with a ResNet-18 at base_channels=16, 3 feature levels, 2 encoder + 2 decoder
# layers, 512-wide FFNs and 30 queries. `in_channels` (the LLM width) is filled in by VisionLLMv2
# from its language model. This file defines variables only (`det_detector`, `det_decoder`), so it
# combines with other bases.
_base_ = './det_swin_t.py'

det_max_targets = 32  # most targets (class names) per sample = the head's text length
det_levels = 3
det_detector = dict(
    num_queries=30,
    num_feature_levels=det_levels,
    backbone=dict(
        _delete_=True,
        type='mmdet.ResNet',
        depth=18,
        base_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),  # stride 4 (mask branch) + strides 8/16/32 (neck)
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch'),
    neck=dict(in_channels=[32, 64, 128], num_outs=det_levels),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(num_levels=det_levels), ffn_cfg=dict(feedforward_channels=512)),
        text_layer_cfg=dict(ffn_cfg=dict(feedforward_channels=512)),
        fusion_layer_cfg=dict(embed_dim=256)),
    decoder=dict(
        num_layers=2,
        layer_cfg=dict(
            cross_attn_cfg=dict(num_levels=det_levels), ffn_cfg=dict(feedforward_channels=512))),
    bbox_head=dict(
        num_classes=det_max_targets,
        contrastive_cfg=dict(max_text_len=det_max_targets, log_scale='auto', bias=True),
        mask_head=dict(in_channels=16, num_points=1024)),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=30)),
    test_cfg=dict(max_per_img=100))

det_decoder = dict(detector=det_detector)
