# VisionLLM v2 at the paper's scale on real data, stage 2 (decoders + LoRA on the LLM): COCO 2017
# detection/instance masks and keypoints, RefCOCO (MDETR's final_refexp json), VQAv2 and LLaVA-style
# conversations, with the CLIP-L-336 + Vicuna-7B core, the Grounding DINO-T link decoder (Swin-T) and
# the UniPose-T pose decoder. Local files only (no hub):
#   checkpoints/clip-vit-large-patch14-336, checkpoints/vicuna-7b-v1.5   (save_pretrained folders)
#   data/coco/{train2017,val2017,annotations/{instances,person_keypoints}_{train,val}2017.json}
#   data/coco/train2014   (the images of RefCOCO and VQAv2)
#   data/coco/mdetr_annotations/final_refexp_{train,val}.json   (MDETR's RefCOCO/+/g conversion)
#   data/vqav2/{v2_OpenEnded_mscoco_train2014_questions.json, v2_mscoco_train2014_annotations.json}
#   data/llava/llava_v1_5_mix665k.json with its images under data/llava/
# Start from a stage-1 checkpoint and, for the detector, a converted mmdet GDINO-T checkpoint
# (tools/model_converters/gdino_to_link_decoder.py), e.g.
#   tools/dist_train.sh configs/visionllmv2/visionllmv2_7b_coco_stage2.py 8 \
#       --cfg-options load_from=work_dirs/stage1/iter_XXXX.pth
_base_ = [
    '../_base_/models/visionllmv2_7b.py', '../_base_/models/decoders/det_swin_t.py',
    '../_base_/models/decoders/pose_unipose_t.py', '../_base_/default_runtime.py',
    '../_base_/strategies/ddp.py'  # or the ZeRO / FSDP variants: visionllmv2_7b_coco_stage2_*.py
]

model = dict(
    decoders=dict(det={{_base_.det_decoder}}, pose={{_base_.pose_decoder}}),
    llm=dict(
        lora=dict(
            _delete_=True,
            r=32,
            lora_alpha=64,
            lora_dropout=0.05,
            target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj',
                            'down_proj'],
            train_new_tokens=True)),
    frozen_components=('vision_encoder', ))

# CLIP view: up to 4 tiles of 336 px plus the global thumbnail; decoder view: mmdet's 1333x800.
clip_view = dict(type='DynamicTiling', tile_size=336, max_tiles=4)
load_image = dict(type='LoadImageFromFile')
decoder_view = dict(type='ResizeWithKeypoints', scale=(1333, 800), keep_ratio=True)
pack_inputs = dict(type='PackMultimodalInputs')
coco = 'data/coco/'

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
        datasets=[
            dict(
                type='CocoInstanceConversationDataset',
                task='det',
                dataset_name='coco',
                data_root=coco,
                ann_file='annotations/instances_train2017.json',
                data_prefix=dict(img='train2017/'),
                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                pipeline=[
                    load_image, clip_view,
                    dict(type='LoadMultimodalAnnotations', with_bbox=True, with_mask=True),
                    decoder_view, pack_inputs
                ]),
            dict(
                type='RefExpConversationDataset',
                task='grd',
                dataset_name='refcoco',
                data_root=coco,
                ann_file='mdetr_annotations/final_refexp_train.json',
                data_prefix=dict(img='train2014/'),
                pipeline=[
                    load_image, clip_view,
                    dict(type='LoadMultimodalAnnotations', with_bbox=True, with_mask=False),
                    decoder_view, pack_inputs
                ]),
            dict(
                type='CocoPoseConversationDataset',
                task='pose',
                dataset_name='coco',
                data_root=coco,
                ann_file='annotations/person_keypoints_train2017.json',
                data_prefix=dict(img='train2017/'),
                # mmpose's COCO keypoint metainfo (names, skeleton, sigmas), found in its package
                metainfo=dict(classes=('person', ), from_file='configs/_base_/datasets/coco.py'),
                pipeline=[
                    load_image, clip_view,
                    dict(type='LoadMultimodalAnnotations', with_bbox=True, with_keypoints=True),
                    decoder_view, pack_inputs
                ]),
            dict(
                type='VQAv2ConversationDataset',
                task='vqa',
                dataset_name='vqav2',
                data_root='data/',
                ann_file='vqav2/v2_OpenEnded_mscoco_train2014_questions.json',
                answer_file='vqav2/v2_mscoco_train2014_annotations.json',
                img_name_template='COCO_train2014_{image_id:012d}.jpg',
                data_prefix=dict(img='coco/train2014/'),
                pipeline=[load_image, clip_view, decoder_view, pack_inputs]),
            dict(
                type='LlavaConversationDataset',
                task='chat',
                dataset_name='llava',
                data_root='data/llava/',
                ann_file='llava_v1_5_mix665k.json',
                data_prefix=dict(img=''),
                pipeline=[load_image, clip_view, decoder_view, pack_inputs]),
        ]))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(custom_keys={
        'llm.': dict(lr_mult=0.1),
        'decoders.det.detector.backbone': dict(lr_mult=0.1)
    }))
max_iters = 50000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=1000, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5000, by_epoch=False))
log_processor = dict(by_epoch=False)
