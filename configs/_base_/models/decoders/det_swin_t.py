# Real-scale detection/segmentation/grounding decoder of VisionLLM v2: Grounding DINO-T (Swin-T,
# 6 + 6 layers, 900 queries, 4 levels) without BERT, link embeddings of the 4096-d LLM in its place,
# plus the Mask DINO-style mask branch. Sizes follow mmdet's grounding_dino_swin-t configs, so the
# weights of an mmdet GDINO-T checkpoint map over with
#   python tools/model_converters/gdino_to_link_decoder.py GDINO_T.pth OUT.pth \
#       --config configs/_base_/models/decoders/det_swin_t.py --model-prefix decoders.det.
# (new: link_proj, the mask branch and Swin's stride-4 norm0).
det_max_targets = 256  # text length of GDINO-T's contrastive head
det_detector = dict(
    type='mmvisionllm.LinkGroundingDINO',
    num_queries=900,
    with_box_refine=True,
    as_two_stage=True,
    num_feature_levels=4,
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False,  # PackMultimodalInputs already gives RGB decoder views
        pad_size_divisor=32,
        pad_mask=False),  # the plugin pads [SEG] masks itself (mixed batches)
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
        out_indices=(0, 1, 2, 3),  # stride 4 (mask branch) + strides 8/16/32 (neck)
        with_cp=False,
        convert_weights=False),
    neck=dict(
        type='mmdet.ChannelMapper',
        in_channels=[192, 384, 768],
        kernel_size=1,
        out_channels=256,
        act_cfg=None,
        bias=True,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=4),
    encoder=dict(
        num_layers=6,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_levels=4, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, ffn_drop=0.0)),
        text_layer_cfg=dict(
            self_attn_cfg=dict(num_heads=4, embed_dims=256, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=1024, ffn_drop=0.0)),
        fusion_layer_cfg=dict(v_dim=256, l_dim=256, embed_dim=1024, num_heads=4, init_values=1e-4)),
    decoder=dict(
        num_layers=6,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            cross_attn_text_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            cross_attn_cfg=dict(embed_dims=256, num_levels=4, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=128, normalize=True, offset=0.0, temperature=20),
    bbox_head=dict(
        type='mmvisionllm.LinkGroundingDINOHead',
        num_classes=det_max_targets,
        embed_dims=256,
        sync_cls_avg_factor=True,
        contrastive_cfg=dict(max_text_len=det_max_targets, log_scale=0.0, bias=False),
        loss_cls=dict(
            type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=2.0),
        loss_bbox=dict(type='mmdet.L1Loss', loss_weight=5.0),
        loss_iou=dict(type='mmdet.GIoULoss', loss_weight=2.0),
        mask_head=dict(
            type='mmvisionllm.DETRMaskHead', in_channels=96, embed_dims=256, num_points=12544)),
    dn_cfg=dict(
        label_noise_scale=0.5,
        box_noise_scale=1.0,
        group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=100)),
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
    test_cfg=dict(max_per_img=300))

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
