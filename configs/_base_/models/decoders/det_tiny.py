# Tiny detection/segmentation/grounding decoder (VisionLLM v2's Grounding DINO, link embeddings in
# place of BERT), random init, for CPU tests and the embedded ShapesWorld benchmark.
# d stays 256 (mmdet's DINO decoder hard-codes 256-d sine embeddings); the model is made small with
# a ResNet-18 at base_channels=16, 2 encoder + 2 decoder layers, 512-wide FFNs and 30 queries.
# `in_channels` (the LLM width) is filled in by VisionLLMv2 from its language model. This file
# defines variables only (`det_detector`, `det_decoder`), so it combines with other bases.
det_max_targets = 32  # most targets (class names) per sample = the head's text length
det_detector = dict(
    type='mmvisionllm.LinkGroundingDINO',
    num_queries=30,
    with_box_refine=True,
    as_two_stage=True,
    num_feature_levels=3,
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,  # PackMultimodalInputs already gives RGB decoder views
        pad_size_divisor=32,
        pad_mask=False),  # the plugin pads [SEG] masks itself (mixed batches)
    backbone=dict(
        type='mmdet.ResNet',
        depth=18,
        base_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),  # stride 4 (mask branch) + strides 8/16/32 (neck)
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch'),
    neck=dict(
        type='mmdet.ChannelMapper',
        in_channels=[32, 64, 128],
        kernel_size=1,
        out_channels=256,
        act_cfg=None,
        bias=True,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=3),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_levels=3, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=512, ffn_drop=0.0)),
        text_layer_cfg=dict(
            self_attn_cfg=dict(num_heads=4, embed_dims=256, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=512, ffn_drop=0.0)),
        fusion_layer_cfg=dict(v_dim=256, l_dim=256, embed_dim=256, num_heads=4, init_values=1e-4)),
    decoder=dict(
        num_layers=2,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            cross_attn_text_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            cross_attn_cfg=dict(embed_dims=256, num_levels=3, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=512, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=128, normalize=True, offset=0.0, temperature=20),
    bbox_head=dict(
        type='mmvisionllm.LinkGroundingDINOHead',
        num_classes=det_max_targets,
        embed_dims=256,
        sync_cls_avg_factor=True,
        contrastive_cfg=dict(max_text_len=det_max_targets, log_scale='auto', bias=True),
        loss_cls=dict(
            type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=2.0),
        loss_bbox=dict(type='mmdet.L1Loss', loss_weight=5.0),
        loss_iou=dict(type='mmdet.GIoULoss', loss_weight=2.0),
        mask_head=dict(type='mmvisionllm.DETRMaskHead', in_channels=16, embed_dims=256,
                       num_points=1024)),
    dn_cfg=dict(
        label_noise_scale=0.5,
        box_noise_scale=1.0,
        group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=30)),
    train_cfg=dict(
        assigner=dict(
            type='mmvisionllm.MaskAwareHungarianAssigner',
            match_costs=[
                dict(type='mmdet.BinaryFocalLossCost', weight=2.0),
                dict(type='mmdet.BBoxL1Cost', weight=5.0, box_format='xywh'),
                dict(type='mmdet.IoUCost', iou_mode='giou', weight=2.0)
            ],
            mask_match_costs=[
                dict(type='mmdet.CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                dict(type='mmdet.DiceCost', weight=5.0, pred_act=True, eps=1.0)
            ])),
    test_cfg=dict(max_per_img=100))

# The plugin; a VisionLLMv2 config adds it as its det group:
#   model = dict(decoders=dict(det={{_base_.det_decoder}}))
det_decoder = dict(
    type='mmvisionllm.LinkGroundingDINODecoder',
    routing_tokens=('[DET]', '[SEG]', '[GRD]'),
    num_queries=4,
    mask_tokens=('[SEG]', ),
    grounding_tokens=('[GRD]', ),
    grounding_topk=1,
    detector=det_detector)
