# Tiny UniPose-style pose decoder (random init, CPU-trainable) for ShapesWorld (128x128 views):
# pose_unipose_t.py's structure shrunk — ResNet-18 at base width 16, d=128, 3 feature levels,
# 1 encoder layer, 2 object + 2 pose decoder layers, 20 object queries of which the best 5 become
# keypoint groups. Use it as `decoders=dict(pose={{_base_.pose_decoder}})`; `in_channels` is filled
# in by the core.
_base_ = './pose_unipose_t.py'

pose_embed_dims = 128
pose_num_levels = 3
pose_heads = 4
pose_ffn = 256
pose_decoder_layer = dict(
    self_attn_cfg=dict(embed_dims=pose_embed_dims, num_heads=pose_heads),
    cross_attn_cfg=dict(
        embed_dims=pose_embed_dims, num_heads=pose_heads, num_levels=pose_num_levels),
    ffn_cfg=dict(embed_dims=pose_embed_dims, feedforward_channels=pose_ffn))

pose_decoder = dict(
    embed_dims=pose_embed_dims,
    num_object_queries=20,
    num_pose_groups=5,
    image_encoder=dict(
        backbone=dict(
            _delete_=True,
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
            in_channels=[32, 64, 128], out_channels=pose_embed_dims, num_outs=pose_num_levels),
        encoder=dict(
            num_layers=1,
            layer_cfg=dict(
                self_attn_cfg=dict(
                    embed_dims=pose_embed_dims, num_heads=pose_heads, num_levels=pose_num_levels),
                ffn_cfg=dict(embed_dims=pose_embed_dims, feedforward_channels=pose_ffn)))),
    decoder=dict(layer_cfg=pose_decoder_layer, num_pose_layers=2),
    # ShapesWorld stick-figure sigmas (configs/_base_/datasets/shapesworld_keypoint_info.py)
    keypoint_sigmas=[
        0.050, 0.040, 0.045, 0.045, 0.055, 0.055, 0.065, 0.065, 0.050, 0.060, 0.060, 0.070, 0.070
    ],
    test_cfg=dict(max_per_img=5))
