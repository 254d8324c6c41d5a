# Real-scale UniPose-T style pose decoder (VisionLLM v2 pose plugin): Swin-T backbone, 4 feature levels,
# d=256, 6 encoder layers, 2 object + 4 pose decoder layers (ED-Pose/UniPose's split of 6), 900 object
# queries of which the best 100 become keypoint groups. COCO keypoint sigmas.
# Use it as `decoders=dict(pose={{_base_.pose_decoder}})`; `in_channels` (LLM width) comes from the core.
# Backbone weights: set `image_encoder.backbone.init_cfg=dict(type='Pretrained', checkpoint=<local
# Swin-T ImageNet .pth>)` in the child config (nothing is downloaded by default).
pose_embed_dims = 256
pose_num_levels = 4
pose_decoder_layer = dict(
    self_attn_cfg=dict(embed_dims=pose_embed_dims, num_heads=8, dropout=0.0, batch_first=True),
    cross_attn_cfg=dict(
        embed_dims=pose_embed_dims,
        num_heads=8,
        num_levels=pose_num_levels,
        num_points=4,
        dropout=0.0,
        batch_first=True),
    ffn_cfg=dict(embed_dims=pose_embed_dims, feedforward_channels=2048, ffn_drop=0.0))

pose_decoder = dict(
    type='UniPoseDecoder',
    routing_tokens=('[POSE]', ),
    num_queries=4,
    embed_dims=pose_embed_dims,
    num_object_targets=1,
    num_object_queries=900,
    num_pose_groups=100,
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    image_encoder=dict(
        backbone=dict(
            type='mmdet.SwinTransformer',
            embed_dims=96,
            depths=[2, 2, 6, 2],
            num_heads=[3, 6, 12, 24],
            window_size=7,
            mlp_ratio=4,
            qkv_bias=True,
            qk_scale=None,
            drop_rate=0.,
            attn_drop_rate=0.,
            drop_path_rate=0.2,
            patch_norm=True,
            out_indices=(1, 2, 3),
            with_cp=False,
            convert_weights=True,
            init_cfg=None),
        neck=dict(
            type='mmdet.ChannelMapper',
            in_channels=[192, 384, 768],
            kernel_size=1,
            out_channels=pose_embed_dims,
            act_cfg=None,
            norm_cfg=dict(type='GN', num_groups=32),
            num_outs=pose_num_levels),
        encoder=dict(
            num_layers=6,
            layer_cfg=dict(
                self_attn_cfg=dict(
                    embed_dims=pose_embed_dims,
                    num_heads=8,
                    num_levels=pose_num_levels,
                    num_points=4,
                    dropout=0.0,
                    batch_first=True),
                ffn_cfg=dict(embed_dims=pose_embed_dims, feedforward_channels=2048,
                             ffn_drop=0.0)))),
    decoder=dict(
        layer_cfg=pose_decoder_layer, num_object_layers=2, num_pose_layers=4, kpt_ref_ratio=0.1),
    # COCO's 17 keypoint sigmas (mmpose configs/_base_/datasets/coco.py)
    keypoint_sigmas=[
        0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
        0.087, 0.087, 0.089, 0.089
    ],
    test_cfg=dict(max_per_img=100))
