# Stage 1 of the demo (`make demo`, see visionllmv2_tiny_shapesworld.py): the same model and data,
# trained on the text tasks only (VQA, captions, region questions) — the LLaVA-style stage that
# teaches the from-scratch LLM and projector to answer from the image before the decoders join.
# `make demo` starts it from stage 0's CLIP tower (load_from=<vision_pretrain checkpoint>; the
# tower stays frozen); trained alone it starts from a random tower, whose image tokens the LLM
# does not learn to read (docs/en/training_recipe.md). Its last checkpoint is stage 2's load_from.
# Tested like the demo (same test set).
_base_ = ['./visionllmv2_tiny_shapesworld.py']

train_dataloader = dict(
    batch_sampler=dict(group_ratios=dict(det=0.0, pose=0.0, text=1.0, gen=0.0, edit=0.0)))

optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_iters = 1000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=50, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
