# Stage 3 of VisionLLM v2 on ShapesWorld with the tiny model: only the decoders and the query tables
# train (the LLM, its LoRA adapters, projector, region encoder and vision encoder are frozen), so the
# decoders sharpen without touching the language side.
# Start from the stage-2 checkpoint: --cfg-options load_from=work_dirs/<stage2>/iter_6000.pth
_base_ = ['./visionllmv2_tiny_stage2_shapesworld.py']

model = dict(frozen_components=('vision_encoder', 'projector', 'region_encoder', 'llm'))

optim_wrapper = dict(paramwise_cfg=dict(_delete_=True))
max_iters = 3000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000))
