# VisionLLM v2, 7B, stage 2 (the decoders join), CLIP-L-336 + Vicuna-7B v1.5 + Grounding DINO-T
# (Swin-T, [DET]/[SEG]/[GRD]) + UniPose-T ([POSE]).
# Trains: LoRA r32/alpha64 on every linear layer of the LLM and the new token rows (lr 1e-5, the
#   paper's LLM side), the decoders and the query tables (lr 1e-4); Swin-T at 0.1x (1e-5).
# Frozen: CLIP, the projector, the region encoder, the LLM's base weights (the paper's recipe).
# Data: COCO 2017 detection and instance segmentation, RefCOCO/+/g (MDETR), COCO keypoints,
#   VQAv2 and LLaVA-1.5 conversations; each step draws one decoder group (TaskGroupedBatchSampler:
#   det = det+seg+grd, pose, text).
# Val/test: COCO val2017 box AP ([DET]) and mask AP ([SEG]), RefCOCO val P@1 ([GRD]), COCO
#   keypoint AP ([POSE]), all teacher-forced as the paper.
# Checkpoints: LoRA + token rows + decoders + query tables + optimizer state (2.32 GiB, a full one
#   15.44 GiB: tools/analysis_tools/stage_params.py); CLIP and the LLM base come from their folders.
# Local files only (no hub): checkpoints/clip-vit-large-patch14-336 and the stage-1 LLM merged into
# a folder (tools/model_converters/merge_lora.py), data as in configs/_base_/datasets/coco_7b.py.
# The detector starts from a converted mmdet GDINO-T checkpoint
# (tools/model_converters/gdino_to_link_decoder.py), e.g.
#   tools/dist_train.sh configs/visionllmv2/visionllmv2_7b_coco_stage2.py 8 --cfg-options \
#       model.llm.pretrained_path=checkpoints/stage1b-llm load_from=work_dirs/stage1b/iter_5200.pth \
#       model.decoders.det.init_cfg.checkpoint=checkpoints/gdino_t_link.pth
_base_ = [
    '../_base_/models/visionllmv2_7b.py',
    '../_base_/models/decoders/det_swin_t.py',
    '../_base_/models/decoders/pose_unipose_t.py',
    '../_base_/datasets/coco_7b.py',
    # plain DDP (its base inherits strategies/ddp.py); ZeRO / FSDP: visionllmv2_7b_coco_stage2_*.py
    '../_base_/schedules/visionllmv2_7b_runtime.py'
]

model = dict(
    decoders=dict(det={{_base_.det_decoder}}, pose={{_base_.pose_decoder}}),
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
    frozen_components=('vision_encoder', 'projector', 'region_encoder'))

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(
        type='TaskGroupedBatchSampler', group_ratios=dict(det=0.45, pose=0.15, text=0.4)),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MultiTaskDataset',
        datasets=[{{_base_.coco_det_train}}, {{_base_.coco_seg_train}},
                  {{_base_.refcoco_grd_train}}, {{_base_.coco_pose_train}}, {{_base_.vqav2_train}},
                  {{_base_.llava_mix_train}}]))
val_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    batch_sampler=dict(type='TaskGroupedBatchSampler'),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='MultiTaskDataset',
        datasets=[{{_base_.coco_det_val}}, {{_base_.coco_seg_val}}, {{_base_.refcoco_grd_val}},
                  {{_base_.coco_pose_val}}]))
test_dataloader = val_dataloader
val_evaluator = [{{_base_.coco_det_metric}}, {{_base_.coco_seg_metric}},
                 {{_base_.refcoco_grd_metric}}, {{_base_.coco_pose_metric}}]
test_evaluator = val_evaluator

# lr 1e-4 for the decoders and query tables, 1e-5 for the LLM side (LoRA, token rows) and Swin-T
optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'llm.': dict(lr_mult=0.1, decay_mult=0.0),
        'decoders.det.detector.backbone': dict(lr_mult=0.1)
    }))
max_iters = 50000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=1000, end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=10000)
