# VisionLLM v2 (tiny, random init) with the [EDIT] InstructPix2Pix-style decoder on ShapesWorld edit
# triplets. "<image>\nPlease edit the image: make the small star green." -> "Here is the edited image
# [EDIT]": the source scene is both the CLIP input and the decoder's source view (concatenated to the
# noisy image: 8 UNet input channels at 64 px, 6 image + 2 coordinate channels); the target is the
# re-rendered scene. LLM, query tables
# and decoder train; CLIP stays frozen.
# Evaluation: success (same objects and colours as the target, by the ShapesWorld DINO detector;
# train it first with configs/baselines/dino_tiny_shapesworld_det.py, see the gen config), L1 and
# PSNR to the target. Free-running: --cfg-options model.predict_mode=chat
_base_ = [
    '../_base_/models/visionllmv2_tiny.py', '../_base_/models/decoders/edit_tiny.py',
    '../_base_/datasets/shapesworld_edit.py', '../_base_/default_runtime.py'
]

model = dict(decoders=dict(edit={{_base_.edit_decoder}}), frozen_components=('vision_encoder', ))

edit_detector = dict(
    type='MMDetShapesDetector',
    config='configs/baselines/dino_tiny_shapesworld_det.py',
    checkpoint='work_dirs/dino_tiny_shapesworld_det/epoch_12.pth')
# the unedited source (the do-nothing edit) is scored beside the edits
val_evaluator = [dict(type='ShapesEditMetric', detector=edit_detector, reference_images=True)]
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0),
    clip_grad=dict(max_norm=1.0))
# half the generation schedule: with source_residual the decoder starts at the unedited source
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
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
