# The embedded default (`make demo`): the tiny VisionLLM v2 generalist learns every ShapesWorld task
# on a CPU — detection, instance segmentation, grounding, pose, VQA, captions, region questions,
# text-to-image and editing — with all four decoders, from scratch, in the paper's order of stages:
#   0. visionllmv2_tiny_shapesworld_vision_pretrain.py — the tiny CLIP tower learns the words of
#      the training captions (the stand-in for a pretrained CLIP), 800 iterations at 1e-3;
#   1. visionllmv2_tiny_shapesworld_text_warmup.py — the text tasks alone (VQA, captions, region
#      questions: the LLaVA-style stage 1) from stage 0's tower, 1000 iterations at 2e-3;
#   2. this config — every task with every decoder, started from stage 1 (`make demo` passes
#      --cfg-options load_from=<previous stage's checkpoint>), 1000 iterations at 5e-4.
# Text steps are cheap and a from-scratch LLM needs many of them before it answers from the image;
# the dearer decoder groups would take them away in a single mixed stage. Batches hold one decoder
# group each (TaskGroupedBatchSampler). Sized for a 15 min budget on 2 cores: one 64 px CLIP tile per
# 128 px scene (64 vision tokens instead of 4 tiles + thumbnail = 320). The paper's staged recipe with dynamic tiling and a frozen vision tower is
# configs/visionllmv2/visionllmv2_tiny_stage{1,2,3}_shapesworld.py. Trained alone (no load_from),
# this config starts from scratch.
_base_ = [
    '../_base_/models/visionllmv2_tiny.py',
    '../_base_/models/decoders/det_tiny.py',
    '../_base_/models/decoders/pose_tiny.py',
    '../_base_/models/decoders/gen_tiny.py',
    '../_base_/models/decoders/edit_tiny.py',
    '../_base_/datasets/shapesworld_multitask.py',
    '../_base_/default_runtime.py',
]

model = dict(
    # Word embeddings x sqrt(256) (Gemma's input scaling): the from-scratch LLM's 0.02-initialised
    # embeddings are otherwise drowned by the first layer's outputs and the words can no longer be
    # read from its hidden states (docs/en/training_recipe.md, "The tiny LLM's embedding scale").
    llm=dict(embed_scale=16.0),
    decoders=dict(
        det={{_base_.det_decoder}},
        pose={{_base_.pose_decoder}},
        gen={{_base_.gen_decoder}},
        edit={{_base_.edit_decoder}}),
    # The CLIP tower (pre-trained in stage 0) stays frozen, as in the paper: trained by the LM loss
    # the image tokens collapse to nearly one vector for every image (docs/en/training_recipe.md).
    frozen_components=('vision_encoder', ),
    predict_mode='teacher_forced')

# one 64 px CLIP tile per scene (see the header)
clip_view_override = dict(DynamicTiling=dict(max_tiles=1))

# ---- data: every task in training; a fixed subset of val per task keeps the test short ----
train_dataloader = dict(
    # shares of the 1000 batches per decoder group, chosen among six stage-2 runs from one stage-1
    # checkpoint (docs/en/training_recipe.md, "Stage 2: group shares")
    batch_sampler=dict(
        group_ratios=dict(_delete_=True, det=0.20, pose=0.25, text=0.40, gen=0.10, edit=0.05)),
    dataset=dict(transform_overrides=clip_view_override))
val_dataloader = None  # stage 2 of the demo trains without validation
test_dataloader = dict(
    dataset=dict(
        datasets=[{{_base_.shapesworld_det_val}}, {{_base_.shapesworld_seg_val}},
                  {{_base_.shapesworld_grd_val}}, {{_base_.shapesworld_pose_val}},
                  {{_base_.shapesworld_vqa_val}}, {{_base_.shapesworld_caption_val}},
                  {{_base_.shapesworld_gen_val}}, {{_base_.shapesworld_edit_val}}],
        transform_overrides=clip_view_override,
        # all 56 val prompts for generation: the pixel FD of fewer images is mostly sampling noise
        max_samples=dict(det=100, seg=100, grd=200, pose=60, vqa=400, caption=100, gen=56,
                         edit=24)))

sw_ann = '{{$SHAPESWORLD_ROOT:data/shapesworld/}}annotations/'
# one metric per task, scored only on that task's samples (named, so configs that test fewer tasks
# can list the ones they keep)
det_test_metric = dict(
    type='TaskFilteredMetric',
    tasks='det',
    metric=dict(
        type='mmdet.CocoMetric',
        ann_file=sw_ann + 'instances_val.json',
        metric='bbox',
        prefix='det'))
seg_test_metric = dict(
    type='TaskFilteredMetric',
    tasks='seg',
    metric=dict(
        type='mmdet.CocoMetric',
        ann_file=sw_ann + 'instances_val.json',
        metric=['bbox', 'segm'],
        prefix='seg'))
grd_test_metric = dict(
    type='TaskFilteredMetric',
    tasks='grd',
    metric=dict(
        type='mmdet.RefExpMetric',
        ann_file=sw_ann + 'refexp_val.json',
        metric='bbox',
        topk=(1, 5, 10),
        prefix='grd'))
pose_test_metric = dict(
    type='TaskFilteredMetric',
    tasks='pose',
    metric=dict(
        type='mmpose.CocoMetric', ann_file=sw_ann + 'person_keypoints_val.json', prefix='pose'))
test_evaluator = [
    det_test_metric,
    seg_test_metric,
    grd_test_metric,
    pose_test_metric,
    dict(type='TaskFilteredMetric', tasks='vqa', metric=dict(type='VQAAccuracy')),
    dict(
        type='TaskFilteredMetric',
        tasks='caption',
        metric=dict(type='CaptionMetric', shuffled_references=True)),
    # Generation and editing without a trained judge (the GenEval-style object check needs the
    # detection specialist: `make geneval`, configs/visionllmv2/visionllmv2_tiny_gen_shapesworld.py):
    # pixel statistics of the generated images beside those of the mean target image given for
    # every prompt, and the edits' L1/PSNR to their targets beside those of the unedited source
    # (the do-nothing edit).
    dict(
        type='TaskFilteredMetric',
        tasks='gen',
        metric=dict(type='PixelFrechetDistance', reference_images=True)),
    dict(
        type='TaskFilteredMetric',
        tasks='edit',
        metric=dict(type='ShapesEditMetric', detector=None, reference_images=True)),
]

# ---- schedule (stage 2: everything at 5e-4 from the stage-1 weights, the [GEN] decoder at 1e-3,
# the learning rate its own config visionllmv2_tiny_gen_shapesworld.py trains at) ----
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'decoders.gen.': dict(lr_mult=2.0)}),
    clip_grad=dict(max_norm=1.0))
max_iters = 1000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=50, end=max_iters)
]
# tools/test.py evaluates once after training; no validation inside the short demo schedule
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=200, by_epoch=False, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
