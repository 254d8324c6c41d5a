# Stage 2 of VisionLLM v2 on ShapesWorld with the tiny model: the decoders join. LoRA on the LLM
# (the base LLM weights stay as stage 1 left them), new token rows trainable, the decoders and the
# query tables train at the base LR and the LLM side at 0.1x (the paper: 1e-5 vs 1e-4).
# Start from the stage-1 checkpoint: --cfg-options load_from=work_dirs/<stage1>/iter_3000.pth
# (a plain checkpoint loads into the LoRA model, see HFCausalLM).
# Tasks: detection, segmentation, grounding, pose and the text tasks; batches hold one decoder group
# (TaskGroupedBatchSampler). Text-to-image and editing join when their decoders are configured.
_base_ = [
    '../_base_/models/visionllmv2_tiny.py', '../_base_/models/decoders/det_tiny.py',
    '../_base_/models/decoders/pose_tiny.py', '../_base_/datasets/shapesworld_multitask.py',
    '../_base_/default_runtime.py'
]

model = dict(
    llm=dict(
        lora=dict(
            _delete_=True,
            r=32,
            lora_alpha=64,
            lora_dropout=0.05,
            target_modules=[
                'q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'
            ],
            train_new_tokens=True)),
    decoders=dict(det={{_base_.det_decoder}}, pose={{_base_.pose_decoder}}),
    frozen_components=('vision_encoder', 'projector', 'region_encoder'),
    predict_mode='teacher_forced')

train_dataloader = dict(
    dataset=dict(datasets=[{{_base_.shapesworld_det_train}}, {{_base_.shapesworld_seg_train}},
                           {{_base_.shapesworld_grd_train}}, {{_base_.shapesworld_pose_train}},
                           {{_base_.shapesworld_vqa_train}}, {{_base_.shapesworld_caption_train}},
                           {{_base_.shapesworld_region_train}}]))
val_dataloader = dict(
    dataset=dict(datasets=[{{_base_.shapesworld_det_val}}, {{_base_.shapesworld_grd_val}},
                           {{_base_.shapesworld_pose_val}}, {{_base_.shapesworld_vqa_val}}]))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='TaskFilteredMetric', tasks='det', metric={{_base_.shapesworld_det_evaluator}}),
    dict(type='TaskFilteredMetric', tasks='grd', metric={{_base_.shapesworld_grd_evaluator}}),
    dict(type='TaskFilteredMetric', tasks='pose', metric={{_base_.shapesworld_pose_evaluator}}),
    dict(type='TaskFilteredMetric', tasks='vqa', metric=dict(type='VQAAccuracy')),
]
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(custom_keys={'llm.': dict(lr_mult=0.1, decay_mult=0.0)}))
max_iters = 6000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=200, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=2000, by_epoch=False))
log_processor = dict(by_epoch=False)
# Each batch calls one decoder group only: DDP must tolerate the others' unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
