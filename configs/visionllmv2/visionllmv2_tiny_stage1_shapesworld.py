# Stage 1 of VisionLLM v2 (LLaVA-style) on ShapesWorld with the tiny model: image-level and
# region-level text tasks (VQA, captions, region questions), no decoders. The vision encoder stays
# frozen; projector, region encoder and the whole LLM train.
# The paper's first half of stage 1 (projector and region encoder only) is the same config with
#   --cfg-options model.frozen_components="['vision_encoder','llm']"
_base_ = [
    '../_base_/models/visionllmv2_tiny.py', '../_base_/datasets/shapesworld_tasks.py',
    '../_base_/default_runtime.py'
]

model = dict(frozen_components=('vision_encoder', ), predict_mode='teacher_forced')

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MultiTaskDataset',
        datasets=[{{_base_.shapesworld_vqa_train}}, {{_base_.shapesworld_caption_train}},
                  {{_base_.shapesworld_region_train}}]))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset={{_base_.shapesworld_vqa_val}})
test_dataloader = val_dataloader
val_evaluator = dict(type='VQAAccuracy')
test_evaluator = val_evaluator

# Random-init tiny models like a large learning rate; the LLM could get a smaller one with
# paramwise_cfg=dict(custom_keys={'llm.': dict(lr_mult=0.1)}).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
max_iters = 3000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1000, by_epoch=False))
log_processor = dict(by_epoch=False)
# A batch without region questions leaves the region encoder unused (likewise a decoder without
# samples of its group): DDP must tolerate parameters without gradients.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
