# VisionLLM v2, 7B, stage 1a (LLaVA-style alignment), CLIP-L-336 + Vicuna-7B v1.5.
# Trains: the MLP projector and the region encoder (lr 1e-3, cosine, 1 epoch-scale schedule).
# Frozen: CLIP, the whole LLM (its new token rows stay mean-initialised). No decoders.
# Data: LLaVA-1.5's 558K image captions + region-level captions (<region> prompts).
# Val/test: VQAv2 val2014 (VQA accuracy, generated answers).
# Checkpoints hold projector + region encoder + optimizer state (0.39 GiB: tools/analysis_tools/
#   stage_params.py), the frozen CLIP/LLM are rebuilt from their folders.
# Next: visionllmv2_7b_stage1b_full.py with load_from=<this run's last checkpoint>.
_base_ = [
    '../_base_/models/visionllmv2_7b.py', '../_base_/datasets/coco_7b.py',
    '../_base_/schedules/visionllmv2_7b_runtime.py'
]

model = dict(frozen_components=('vision_encoder', 'llm'))

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MultiTaskDataset',
        datasets=[{{_base_.llava_caption_train}}, {{_base_.region_caption_train}}]))
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset={{_base_.vqav2_val}})
test_dataloader = val_dataloader
val_evaluator = {{_base_.vqav2_metric}}
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=1e-3))
max_iters = 2200  # 558K captions / batch 256 (8 GPUs x 32)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.03, by_epoch=False, begin=0, end=66),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=66, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=1000))
