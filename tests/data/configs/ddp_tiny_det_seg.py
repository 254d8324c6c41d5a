# Two ranks, one with [SEG] targets and one without, at every step (tests/test_dist/test_ddp_cpu.py)
# Global batch = [seg(scene a), seg(scene b), det(scene a), det(scene b)]: rank 0 of 2 gets the seg
# samples, rank 1 the det samples of the same scenes (so both ranks have the same most targets per
# image, hence the same number of denoising groups as one process on the whole batch). The random
# parts that depend on what a process drew before are switched off: fixed prompts (base config),
# no denoising noise (mmdet asserts noise scales > 0: 1e-12 flips no label and moves no box
# beyond float precision), no dropout in the image-text fusion, fixed mask points, BN in eval mode.
_base_ = ['./ddp_tiny_det_seg_base.py']
custom_imports = dict(imports=['ddp_fixed_batches'], allow_failed_imports=False)

model = dict(
    decoders=dict(
        det=dict(
            detector=dict(
                backbone=dict(norm_eval=True),
                encoder=dict(fusion_layer_cfg=dict(dropout=0.0)),  # mmdet's default is 0.1
                bbox_head=dict(mask_head=dict(type='FixedPointsMaskHead')),
                dn_cfg=dict(label_noise_scale=1e-12, box_noise_scale=1e-12)))))
# scenes 0..5 of the 12-scene train split: seg indices 0..11, det indices 12..23
train_dataloader = dict(
    batch_size=2,
    batch_sampler=dict(
        type='FixedGlobalBatchSampler',
        global_batches=[[0, 1, 12, 13], [2, 3, 14, 15], [4, 5, 16, 17], [1, 2, 13, 14]]))

# SGD, not AdamW: see tests/test_dist/test_ddp_cpu.py
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=4)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False, max_keep_ckpts=3))
custom_hooks = [dict(type='DumpParamsHook')]
log_processor = dict(by_epoch=False)
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
