# Tiny UniPose-style pose decoder (random init, CPU-trainable) for ShapesWorld (128x128 views).
# Same structure as pose_unipose_t.py, shrunk: ResNet-18 at base width 16, d=128, 1 encoder layer,
# 2 object + 2 pose decoder layers, 20 object queries of which the best 5 become keypoint groups.
# Use it as `decoders=dict(pose={{_base_.pose_decoder}})`; `in_channels` is filled in by the core.
pose_embed_dims = 128
pose_num_levels = 3
pose_decoder_layer = dict(
    self_attn_cfg=dict(embed_dims=pose_embed_dims, num_heads=4, dropout=0.0, batch_first=True),
    cross_attn_cfg=dict(
        embed_dims=pose_embed_dims,
        num_heads=4,
        num_levels=pose_num_levels,
        num_points=4,
        dropout=0.0,
        batch_first=True),
    ffn_cfg=dict(embed_dims=pose_embed_dims, feedforward_channels=256, ffn_drop=0.0))

pose_decoder = dict(
    type='UniPoseDecoder',
    routing_tokens=('[POSE]', ),
    num_queries=4,
    embed_dims=pose_embed_dims,
    num_object_targets=1,
    num_object_queries=20,
    num_pose_groups=5,
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    image_encoder=dict(
        backbone=dict(
            type='mmdet.ResNet',
            depth=18,
            base_channels=16,
            num_stages=4,
            out_indices=(1, 2, 3),
            frozen_stages=-1,
            norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=False,
            style='pytorch',
            init_cfg=None),
        neck=dict(
            type='mmdet.ChannelMapper',
            in_channels=[32, 64, 128],
            kernel_size=1,
            out_channels=pose_embed_dims,
            act_cfg=None,
            norm_cfg=dict(type='GN', num_groups=32),
            num_outs=pose_num_levels),
        encoder=dict(
            num_layers=1,
            layer_cfg=dict(
                self_attn_cfg=dict(
                    embed_dims=pose_embed_dims,
                    num_heads=4,
                    num_levels=pose_num_levels,
                    num_points=4,
                    dropout=0.0,
                    batch_first=True),
                ffn_cfg=dict(embed_dims=pose_embed_dims, feedforward_channels=256, ffn_drop=0.0)))),
    decoder=dict(
        layer_cfg=pose_decoder_layer, num_object_layers=2, num_pose_layers=2, kpt_ref_ratio=0.1),
    # ShapesWorld stick-figure sigmas (configs/_base_/datasets/shapesworld_keypoint_info.py)
    keypoint_sigmas=[
        0.050, 0.040, 0.045, 0.045, 0.055, 0.055, 0.065, 0.065, 0.050, 0.060, 0.060, 0.070, 0.070
    ],
    test_cfg=dict(max_per_img=5))
