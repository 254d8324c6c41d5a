# Stage 0 of the demo (`make demo`): pre-train the tiny CLIP tower on the ShapesWorld training
# captions — the stand-in for the pretrained CLIP of the real build, which the CPU demo cannot
# download. The tower (the same `tiny_vision_encoder` VisionLLMv2 builds) learns which of the tags
# below an image's captions contain. Stage 1 (visionllmv2_tiny_shapesworld_text_warmup.py) starts
# from its last checkpoint (`load_from`; the tag head is not loaded) and keeps the tower frozen.
# Why: a frozen random tower leaves the shapes undecodable (docs/en/training_recipe.md).
_base_ = [
    '../_base_/models/visionllmv2_tiny.py', '../_base_/datasets/shapesworld_tasks.py',
    '../_base_/default_runtime.py'
]

caption_tags = ('red', 'green', 'blue', 'yellow', 'purple', 'person', 'people', 'circle', 'circles',
                'square', 'squares', 'triangle', 'triangles', 'star', 'stars', 'cross', 'crosses',
                'small', 'large', 'two', 'three', 'middle')
model = dict(
    _delete_=True,
    type='VisionTagPretrainer',
    vision_encoder={{_base_.tiny_vision_encoder}},
    num_tags=len(caption_tags))

# the CLIP view VisionLLMv2 reads in the demo: the whole scene as one 64 px tile
tag_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='DynamicTiling', tile_size=64, max_tiles=1),
    dict(type='PackMultimodalInputs')
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='CocoCaptionTagDataset',
        tags=caption_tags,
        data_root={{_base_.data_root}},
        ann_file='annotations/captions_train.json',
        data_prefix=dict(img='images/train/'),
        pipeline=tag_pipeline))
# held-out images for tools/analysis_tools/vision_probe.py (how well a tower's frozen features
# tell the tags); stage 0 itself runs no validation
tag_val_dataset = dict(
    train_dataloader['dataset'],
    ann_file='annotations/captions_val.json',
    data_prefix=dict(img='images/val/'))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0))
max_iters = 800
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=50, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False))
log_processor = dict(by_epoch=False)
