# VisionLLM v2 (tiny, random init) with the [GEN] text-to-image decoder on ShapesWorld t2i pairs.
# "Please generate an image of a large red circle left of a small blue star." -> "Here is the image
# [GEN]": the 8 link embeddings after [GEN] drive the tiny pixel-space diffusion decoder (64 px) and its
# loss flows back into the LLM (stage-2 style: LLM, query tables and decoder train; CLIP is unused by
# this image-free task and stays frozen).
# Evaluation: GenEval-style accuracy with the ShapesWorld DINO detector (train it first:
#   python tools/train.py configs/baselines/dino_tiny_shapesworld_det.py \
#       --work-dir work_dirs/dino_tiny_shapesworld_det
# or point `geneval_detector` at another mmdet config + checkpoint), plus a pixel-statistics
# Fréchet distance. Free-running ("draw ..." -> the LLM decides to emit [GEN]):
#   --cfg-options model.predict_mode=chat
_base_ = [
    '../_base_/models/visionllmv2_tiny.py', '../_base_/models/decoders/gen_tiny.py',
    '../_base_/datasets/shapesworld_gen.py', '../_base_/default_runtime.py'
]

model = dict(decoders=dict(gen={{_base_.gen_decoder}}), frozen_components=('vision_encoder', ))

geneval_detector = dict(
    type='MMDetShapesDetector',
    config='configs/baselines/dino_tiny_shapesworld_det.py',
    checkpoint='work_dirs/dino_tiny_shapesworld_det/epoch_12.pth')
val_evaluator = [
    # generated 64-px images are scored at the detector's 128-px training resolution; the real image
    # of each prompt (upper bound) and of another prompt (chance) are scored beside them
    dict(
        type='ShapesGenEvalMetric',
        detector=geneval_detector,
        image_size=128,
        reference_images=True),
    dict(type='PixelFrechetDistance')
]
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
max_iters = 6000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=100, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=2000, by_epoch=False))
log_processor = dict(by_epoch=False)
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
