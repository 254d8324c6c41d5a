# VisionLLM v2, 7B, stage 3 (the decoders sharpen), same model and data as stage 2.
# Trains: the decoders (Grounding DINO-T, UniPose-T) and the query tables, lr 1e-4 (Swin-T 1e-5).
# Frozen: CLIP, the projector, the region encoder, the whole LLM with its stage-2 LoRA and token
#   rows: the language side does not move.
# Data and val/test: as visionllmv2_7b_coco_stage2.py (COCO det/seg/keypoints, RefCOCO, VQAv2,
#   LLaVA; COCO box/mask/keypoint AP, RefCOCO P@1).
# Start: load_from=<stage 2's last checkpoint> (its LoRA, token rows, decoders, query tables).
# Checkpoints: decoders + query tables + optimizer state + the stage-2 LoRA and token rows (kept:
#   they do not come from a folder) (1.72 GiB, tools/analysis_tools/stage_params.py).
_base_ = ['./visionllmv2_7b_coco_stage2.py']

model = dict(frozen_components=('vision_encoder', 'projector', 'region_encoder', 'llm'))

optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True, custom_keys={'decoders.det.detector.backbone': dict(lr_mult=0.1)}))
max_iters = 20000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=500, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=5000)
