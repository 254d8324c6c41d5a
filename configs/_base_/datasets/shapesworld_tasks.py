# Every ShapesWorld task dataset (train/val) and the metrics that score them unchanged.
# The per-task configs (shapesworld_det.py, ...) and shapesworld_multitask.py pick from these
# variables with {{_base_.<name>}}; a model config inherits one of those. Types are resolved in the
# 'mmvisionllm' default scope (LoadImageFromFile and DefaultSampler come from mmcv/mmengine).
data_root = '{{$SHAPESWORLD_ROOT:data/shapesworld/}}'  # SHAPESWORLD_ROOT=DIR/ moves it
img_scale = (128, 128)
shapesworld_classes = ('person', 'circle', 'square', 'triangle', 'star', 'cross')
shapesworld_metainfo = dict(classes=shapesworld_classes)
backend_args = None

# CLIP view: 2x2 tiles of 64 px cut from a 128 px scene, plus the global thumbnail (last).
clip_view = dict(type='DynamicTiling', tile_size=64, max_tiles=4)
load_image = dict(type='LoadImageFromFile', backend_args=backend_args)
# Decoder view: mmdet Resize (boxes, masks) that also rescales keypoints.
decoder_view = dict(type='ResizeWithKeypoints', scale=img_scale, keep_ratio=True)
pack_inputs = dict(type='PackMultimodalInputs')

det_pipeline = [
    load_image, clip_view,
    dict(type='LoadMultimodalAnnotations', with_bbox=True, with_mask=False), decoder_view,
    pack_inputs
]
seg_pipeline = [
    load_image, clip_view,
    dict(type='LoadMultimodalAnnotations', with_bbox=True, with_mask=True), decoder_view,
    pack_inputs
]
pose_pipeline = [
    load_image, clip_view,
    dict(type='LoadMultimodalAnnotations', with_bbox=True, with_keypoints=True), decoder_view,
    pack_inputs
]
image_text_pipeline = [load_image, clip_view, decoder_view, pack_inputs]
region_pipeline = [load_image, clip_view, dict(type='LoadRegionPrompts'), decoder_view, pack_inputs]
gen_pipeline = [dict(type='LoadTargetImage', scale=img_scale), pack_inputs]
edit_pipeline = [
    load_image, clip_view,
    dict(type='ResizeWithKeypoints', scale=img_scale, keep_ratio=False),
    dict(type='LoadTargetImage', scale=img_scale), pack_inputs
]

# ---- detection / instance segmentation (COCO instances) ----
shapesworld_det_train = dict(
    type='CocoInstanceConversationDataset',
    task='det',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/instances_train.json',
    data_prefix=dict(img='images/train/'),
    metainfo=shapesworld_metainfo,
    pipeline=det_pipeline)
shapesworld_det_val = dict(
    type='CocoInstanceConversationDataset',
    task='det',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/instances_val.json',
    data_prefix=dict(img='images/val/'),
    metainfo=shapesworld_metainfo,
    test_mode=True,
    pipeline=det_pipeline)
shapesworld_seg_train = dict(shapesworld_det_train, task='seg', pipeline=seg_pipeline)
shapesworld_seg_val = dict(shapesworld_det_val, task='seg', pipeline=seg_pipeline)
shapesworld_det_evaluator = dict(
    type='mmdet.CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox')
shapesworld_seg_evaluator = dict(
    type='mmdet.CocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric=['bbox', 'segm'])

# ---- grounding (MDETR-style referring expressions) ----
shapesworld_grd_train = dict(
    type='RefExpConversationDataset',
    task='grd',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/refexp_train.json',
    data_prefix=dict(img='images/train/'),
    pipeline=det_pipeline)
shapesworld_grd_val = dict(
    type='RefExpConversationDataset',
    task='grd',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/refexp_val.json',
    data_prefix=dict(img='images/val/'),
    test_mode=True,
    pipeline=det_pipeline)
shapesworld_grd_evaluator = dict(
    type='mmdet.RefExpMetric',
    ann_file=data_root + 'annotations/refexp_val.json',
    metric='bbox',
    topk=(1, 5, 10))

# ---- pose (COCO person keypoints of the stick figures) ----
shapesworld_pose_metainfo = dict(
    classes=('person', ), from_file='{{fileDirname}}/shapesworld_keypoint_info.py')
shapesworld_pose_train = dict(
    type='CocoPoseConversationDataset',
    task='pose',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/person_keypoints_train.json',
    data_prefix=dict(img='images/train/'),
    metainfo=shapesworld_pose_metainfo,
    pipeline=pose_pipeline)
shapesworld_pose_val = dict(
    type='CocoPoseConversationDataset',
    task='pose',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/person_keypoints_val.json',
    data_prefix=dict(img='images/val/'),
    metainfo=shapesworld_pose_metainfo,
    test_mode=True,
    pipeline=pose_pipeline)
shapesworld_pose_evaluator = dict(
    type='mmpose.CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json')

# ---- VQA (VQAv2 questions + annotations) ----
shapesworld_vqa_train = dict(
    type='VQAv2ConversationDataset',
    task='vqa',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/vqa_train_questions.json',
    answer_file='annotations/vqa_train_annotations.json',
    img_name_template='{image_id:06d}.png',
    data_prefix=dict(img='images/train/'),
    pipeline=image_text_pipeline)
shapesworld_vqa_val = dict(
    type='VQAv2ConversationDataset',
    task='vqa',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/vqa_val_questions.json',
    answer_file='annotations/vqa_val_annotations.json',
    img_name_template='{image_id:06d}.png',
    data_prefix=dict(img='images/val/'),
    test_mode=True,
    pipeline=image_text_pipeline)

# ---- captioning (COCO captions) ----
shapesworld_caption_train = dict(
    type='CocoCaptionConversationDataset',
    task='caption',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/captions_train.json',
    data_prefix=dict(img='images/train/'),
    pipeline=image_text_pipeline)
shapesworld_caption_val = dict(
    type='CocoCaptionConversationDataset',
    task='caption',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/captions_val.json',
    data_prefix=dict(img='images/val/'),
    test_mode=True,
    pipeline=image_text_pipeline)

# ---- region questions (LLaVA conversations with <region> box/mask prompts) ----
shapesworld_region_train = dict(
    type='LlavaConversationDataset',
    task='region',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/region_train.json',
    data_prefix=dict(img='images/'),
    pipeline=region_pipeline)
shapesworld_region_val = dict(
    type='LlavaConversationDataset',
    task='region',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/region_val.json',
    data_prefix=dict(img='images/'),
    test_mode=True,
    pipeline=region_pipeline)

# ---- text-to-image (simple scenes: 1-2 shapes, no person) ----
shapesworld_gen_train = dict(
    type='TextToImageDataset',
    task='gen',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/t2i_train.json',
    data_prefix=dict(img='images/'),
    pipeline=gen_pipeline)
shapesworld_gen_val = dict(
    type='TextToImageDataset',
    task='gen',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/t2i_val.json',
    data_prefix=dict(img='images/'),
    test_mode=True,
    pipeline=gen_pipeline)

# ---- editing (source scene, instruction, re-rendered target) ----
shapesworld_edit_train = dict(
    type='ImageEditDataset',
    task='edit',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/edit_train.json',
    data_prefix=dict(img='images/'),
    pipeline=edit_pipeline)
shapesworld_edit_val = dict(
    type='ImageEditDataset',
    task='edit',
    dataset_name='shapesworld',
    data_root=data_root,
    ann_file='annotations/edit_val.json',
    data_prefix=dict(img='images/'),
    test_mode=True,
    pipeline=edit_pipeline)
