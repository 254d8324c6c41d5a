"""Hungarian matching that adds mask costs for the images that carry instance masks.

Reused: mmdet's ``HungarianAssigner`` does the matching and mmdet's match costs
(``BinaryFocalLossCost`` / ``FocalLossCost``, ``BBoxL1Cost``, ``IoUCost``, ``DiceCost``,
``CrossEntropyLossCost``) compute the costs. Why a new class: mmdet's DETR-family heads call
``self.assigner.assign(pred_instances, gt_instances, img_meta)`` with boxes and scores only, while
VisionLLM v2 also matches on the masks of ``[SEG]`` samples (paper: mask BCE 5 and dice 5 in the
matching cost as well). Instead of rewriting the heads' target code, the head puts the point-sampled
mask logits of the image (and of its ground truth) into that image's ``img_meta[MASK_MATCH_KEY]``;
this assigner then matches with the box costs plus the mask costs and records the result there so
the head's mask loss uses the same assignment. Images without that entry are matched on the box
costs only, exactly as mmdet does.
"""
from typing import List, Optional, Union

from mmdet.models.task_modules import AssignResult, BaseAssigner, HungarianAssigner
from mmengine.structures import InstanceData

from mmvisionllm.registry import TASK_UTILS

__all__ = ['MaskAwareHungarianAssigner', 'MASK_MATCH_KEY']

#: Key of the per-image mask-matching context in ``img_meta``: a dict with ``pred_masks`` [Q, P]
#: (mask logits at P points), ``gt_masks`` [num_gt, P] (0/1 at the same points); the assigner adds
#: ``assign_result``.
MASK_MATCH_KEY = 'mask_match'


@TASK_UTILS.register_module()
class MaskAwareHungarianAssigner(BaseAssigner):
    """One-to-one matching on box costs, plus mask costs where the image has mask targets.

    Args:
        match_costs (list[dict]): mmdet match costs on ``scores``/``bboxes`` (e.g. focal 2, L1 5,
            GIoU 2).
        mask_match_costs (list[dict]): mmdet match costs on ``masks`` (e.g. ``CrossEntropyLossCost``
            with ``use_sigmoid=True`` weight 5 and ``DiceCost`` weight 5), added for images whose
            ``img_meta`` holds a :data:`MASK_MATCH_KEY` entry.
    """

    def __init__(self,
                 match_costs: Union[List[dict], dict],
                 mask_match_costs: Optional[List[dict]] = None) -> None:
        if isinstance(match_costs, dict):
            match_costs = [match_costs]
        self.box_assigner = HungarianAssigner(match_costs=list(match_costs))
        self.mask_assigner = HungarianAssigner(
            match_costs=list(match_costs) + list(mask_match_costs)) if mask_match_costs else None

    def assign(self,
               pred_instances: InstanceData,
               gt_instances: InstanceData,
               img_meta: Optional[dict] = None,
               **kwargs) -> AssignResult:
        """Match the queries of one image to its ground truth.

        Args:
            pred_instances (InstanceData): ``scores`` [Q, K] logits and ``bboxes`` [Q, 4] xyxy in
                the image's pixels.
            gt_instances (InstanceData): ``bboxes`` [n, 4], ``labels`` [n] (and whatever the
                classification cost reads, e.g. ``positive_maps``).
            img_meta (dict, optional): the image's meta information; an entry under
                :data:`MASK_MATCH_KEY` switches on the mask costs and receives the result.

        Returns:
            AssignResult: ``gt_inds`` [Q] with 0 for background and i + 1 for gt i.
        """
        context = img_meta.get(MASK_MATCH_KEY) if img_meta is not None else None
        if context is None or self.mask_assigner is None:
            return self.box_assigner.assign(pred_instances, gt_instances, img_meta=img_meta)
        preds = InstanceData(
            scores=pred_instances.scores, bboxes=pred_instances.bboxes, masks=context['pred_masks'])
        gts = InstanceData(
            **{key: gt_instances.get(key)
               for key in gt_instances.keys() if key != 'masks'})
        gts.masks = context['gt_masks']
        result = self.mask_assigner.assign(preds, gts, img_meta=img_meta)
        context['assign_result'] = result
        return result
