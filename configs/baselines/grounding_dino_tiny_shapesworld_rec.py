# The grounding specialist of grounding_dino_tiny_shapesworld.py tested on referring expressions:
# one sample per expression of refexp_val.json (the first 200, as the generalist config tests
# them), the expression as the caption, scored by mmdet's RefExpMetric (precision@1/5/10 at IoU
# 0.5 of the top-scoring boxes). Training is that config's; test its checkpoint with
#   python tools/test.py configs/baselines/grounding_dino_tiny_shapesworld_rec.py \
#       work_dirs/grounding_dino_tiny_shapesworld/iter_1500.pth
_base_ = ['./grounding_dino_tiny_shapesworld.py']

# a referring expression ranks the queries themselves (one box per query), so at most
# num_queries boxes exist (mmdet's refexp configs likewise lower max_per_img)
model = dict(test_cfg=dict(max_per_img=_base_.model.num_queries))

test_dataloader = dict(dataset=dict(_delete_=True, indices=200, **_base_.shapesworld_rec_val))
test_evaluator = dict(
    _delete_=True,
    type='mmdet.RefExpMetric',
    ann_file=_base_.data_root + 'annotations/refexp_val.json',
    metric='bbox',
    iou_thrs=0.5,
    topk=(1, 5, 10))
