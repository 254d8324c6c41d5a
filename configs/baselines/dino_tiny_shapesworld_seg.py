# Segmentation specialist baseline: the DINO detection baseline plus the same mask branch as VisionLLM
# v2's decoder (mmvisionllm DETRMaskHead: query embedding . 1/4-res pixel features, BCE 5 + dice 5,
# mask costs in the matching). Same backbone, widths, layers, image size and schedule.
#   python tools/train.py configs/baselines/dino_tiny_shapesworld_seg.py --work-dir work_dirs/dino_seg
_base_ = ['./dino_tiny_shapesworld_det.py']

model = dict(
    type='mmvisionllm.DINOMask',
    data_preprocessor=dict(pad_mask=True),
    # the stride-4 output (16 channels) feeds the mask branch, the others the neck
    backbone=dict(out_indices=(0, 1, 2, 3)),
    bbox_head=dict(
        type='mmvisionllm.DINOMaskHead',
        mask_head=dict(
            type='mmvisionllm.DETRMaskHead', in_channels=16, embed_dims=256, num_points=1024)),
    train_cfg=dict(
        assigner=dict(
            type='mmvisionllm.MaskAwareHungarianAssigner',
            mask_match_costs=[
                dict(type='mmdet.CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                dict(type='mmdet.DiceCost', weight=5.0, pred_act=True, eps=1.0)
            ])))

val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
