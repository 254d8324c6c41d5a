# Stage 2 of the tiny generalist under the paper's protocol (`make paper-tables`,
# tools/analysis_tools/paper_tables.py): the perception decoders start from trained specialists and
# the LLM, projector, region encoder and CLIP from the demo's text stages, as VisionLLM v2 starts
# from Grounding DINO-T, UniPose-T and a trained MLLM. The starting checkpoint is composed by
# tools/model_converters/compose_checkpoint.py (the det decoder through gdino_to_link_decoder.py)
# and passed as load_from; query tables and link projections start new. Only the tasks of the
# paper's comparison train and are tested: detection, segmentation and grounding (det group), pose,
# and the text tasks that keep the LLM answering.
#   python tools/train.py configs/visionllmv2/visionllmv2_tiny_paper_protocol_shapesworld.py \
#       --work-dir work_dirs/paper_protocol --cfg-options load_from=INIT.pth
_base_ = ['./visionllmv2_tiny_shapesworld.py']

model = dict(decoders=dict(_delete_=True, det={{_base_.det_decoder}}, pose={{_base_.pose_decoder}}))

train_dataloader = dict(
    # the det group holds det, seg and grd samples; pose and det get the same share of batches
    batch_sampler=dict(group_ratios=dict(_delete_=True, det=0.4, pose=0.4, text=0.2)),
    dataset=dict(datasets=[{{_base_.shapesworld_det_train}}, {{_base_.shapesworld_seg_train}},
                           {{_base_.shapesworld_grd_train}}, {{_base_.shapesworld_pose_train}},
                           {{_base_.shapesworld_vqa_train}}, {{_base_.shapesworld_caption_train}},
                           {{_base_.shapesworld_region_train}}]))
test_dataloader = dict(
    dataset=dict(
        datasets=[{{_base_.shapesworld_det_val}}, {{_base_.shapesworld_seg_val}},
                  {{_base_.shapesworld_grd_val}}, {{_base_.shapesworld_pose_val}}],
        # the val subsets of the demo (and of the specialists' tests)
        max_samples=dict(_delete_=True, det=100, seg=100, grd=200, pose=60)))
test_evaluator = [{{_base_.det_test_metric}}, {{_base_.seg_test_metric}},
                  {{_base_.grd_test_metric}}, {{_base_.pose_test_metric}}]

# ---- schedule: the paper's stage-2 ratio of learning rates (decoders 1e-4, LLM side 1e-5, i.e.
# 0.1x), at twice its base rate for a schedule a hundred times shorter; warm-up then cosine as
# in the demo. The specialists' further steps use the same rate and shape. ----
optim_wrapper = dict(
    optimizer=dict(lr=2e-4),
    paramwise_cfg=dict(
        _delete_=True,
        custom_keys={
            'llm.': dict(lr_mult=0.1),
            'projector.': dict(lr_mult=0.1),
            'region_encoder.': dict(lr_mult=0.1)
        }))
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', eta_min=2e-6, by_epoch=False, begin=20, end=max_iters)
]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False, max_keep_ckpts=1))
