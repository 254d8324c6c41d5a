# Grounding specialist baseline on ShapesWorld: mmdet's own GroundingDINO with the structure of
# VisionLLM v2's tiny detection decoder (configs/_base_/models/decoders/det_tiny.py over
# det_swin_t.py: ResNet-18/16, 3 levels, 2 + 2 layers, 30 queries, the same denoising, losses and
# box matching), conditioned on a small BERT trained with it, as Grounding DINO conditions on BERT.
# It trains on detection (class names as captions) and referring expressions together (ODVG files);
# this config tests detection (the first 100 val images, COCO bbox AP), its sibling
# grounding_dino_tiny_shapesworld_rec.py tests referring expressions (the first 200, P@1/5/10).
# Its checkpoint converts into the generalist's det decoder, every tensor but the text branch
# (language_model.*, text_feat_map.*) landing:
#   python tools/model_converters/gdino_to_link_decoder.py CKPT.pth OUT.pth \
#       --config configs/visionllmv2/visionllmv2_tiny_shapesworld.py --in-channels 256 \
#       --model-prefix decoders.det.
# Data (once, after `make data`; ROOT=data/shapesworld): the ODVG files and the text encoder
#   python tools/dataset_converters/to_odvg.py od $ROOT/annotations/instances_train.json \
#       $ROOT/odvg/instances_train_od.jsonl --label-map $ROOT/odvg/instances_label_map.json
#   python tools/dataset_converters/to_odvg.py vg $ROOT/annotations/refexp_train.json \
#       $ROOT/odvg/refexp_train_vg.jsonl
#   python tools/misc/make_tiny_text_encoder.py $ROOT/text_encoder --tokenizer $ROOT/tokenizer
# Train and test:
#   python tools/train.py configs/baselines/grounding_dino_tiny_shapesworld.py \
#       --work-dir work_dirs/grounding_dino_tiny_shapesworld
#   python tools/test.py configs/baselines/grounding_dino_tiny_shapesworld.py \
#       work_dirs/grounding_dino_tiny_shapesworld/iter_1500.pth
#   python tools/test.py configs/baselines/grounding_dino_tiny_shapesworld_rec.py \
#       work_dirs/grounding_dino_tiny_shapesworld/iter_1500.pth
# The structure is read from det_tiny.py's `det_detector` (the Python form of base references,
# `_base_.x`, which can also be copied with changes), so the two cannot drift apart.
_base_ = [
    '../_base_/models/decoders/det_tiny.py', '../_base_/datasets/shapesworld_odvg.py',
    '../_base_/default_runtime.py'
]

model = dict(
    type='mmdet.GroundingDINO',
    num_queries=_base_.det_detector.num_queries,
    with_box_refine=_base_.det_detector.with_box_refine,
    as_two_stage=_base_.det_detector.as_two_stage,
    num_feature_levels=_base_.det_detector.num_feature_levels,
    # mmdet's LoadImageFromFile gives BGR (the generalist's PackMultimodalInputs gives RGB)
    data_preprocessor=dict(_base_.det_detector.data_preprocessor, bgr_to_rgb=True),
    language_model=dict(
        type='mmvisionllm.GroundingBertModel',
        name=_base_.text_encoder,  # a local bert-base-uncased folder in the real build
        max_tokens=_base_.text_max_tokens,
        pad_to_max=False,
        use_sub_sentence_represent=True,
        special_tokens_list=['[CLS]', '[SEP]', '.', '?'],
        add_pooling_layer=False),
    # the same ResNet without the stride-4 output (the link decoder's mask branch): same weights
    backbone=dict(_base_.det_detector.backbone, out_indices=(1, 2, 3)),
    neck=_base_.det_detector.neck,
    encoder=_base_.det_detector.encoder,
    decoder=_base_.det_detector.decoder,
    positional_encoding=_base_.det_detector.positional_encoding,
    bbox_head=dict(
        type='mmdet.GroundingDINOHead',  # mmdet's own head (its predict reads token positive maps)
        num_classes=_base_.det_detector.bbox_head.num_classes,
        embed_dims=_base_.det_detector.bbox_head.embed_dims,
        sync_cls_avg_factor=_base_.det_detector.bbox_head.sync_cls_avg_factor,
        contrastive_cfg=_base_.det_detector.bbox_head.contrastive_cfg,
        loss_cls=_base_.det_detector.bbox_head.loss_cls,
        loss_bbox=_base_.det_detector.bbox_head.loss_bbox,
        loss_iou=_base_.det_detector.bbox_head.loss_iou),
    dn_cfg=_base_.det_detector.dn_cfg,
    train_cfg=dict(
        assigner=dict(
            type='mmdet.HungarianAssigner',
            match_costs=_base_.det_detector.train_cfg.assigner.match_costs)),
    test_cfg=_base_.det_detector.test_cfg)

# ---- test: detection on the first 100 val images, as the generalist config tests it ----
test_dataloader = dict(dataset=dict(indices=100))
val_dataloader = None
val_cfg = None
val_evaluator = None

# ---- the optimiser of configs/baselines/dino_tiny_shapesworld_det.py, iteration-based ----
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.1, norm_type=2))
max_iters = 1500
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=[int(max_iters * 5 / 6)],
        gamma=0.1)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=8)
