"""mmdet's ``RandomSamplingNegPos`` with negatives that are really negatives.

For a detection sample of a Grounding DINO training set, mmdet 3.3's ``RandomSamplingNegPos`` writes
the caption: the sample's class names (positives) plus randomly drawn other class names
(negatives), shuffled, with ``tokens_positive`` locating each box's name. Two defects of its
``od_aug`` break that on ODVG data with the installed numpy, both measured:

* it draws the negatives among the label map's keys (strings, ``"0"``, ``"1"`` ...) and drops those
  ``in`` the positive labels (integers), so none is dropped: on ShapesWorld (6 classes, 2 present)
  190 of 200 captions named a present class twice, once as a positive and once as a negative.
  With Grounding DINO's sub-sentence mask both mentions get the same text features, so the
  contrastive loss is asked to score the same box high and low at once;
* its positive-overflow check builds the labels with ``dtype=np.long``, which numpy 1.24-1.26 do not
  have (``AttributeError``), so no detection sample loads at all.

:class:`DistinctRandomSamplingNegPos` keeps mmdet's class, arguments, grounding branch (``vg_aug``)
and caption writer (``generate_senetence_given_labels``), and replaces ``od_aug`` with the same
sampling done right: the positives that fit ``max_tokens`` are kept (with their boxes), then, with
probability ``full_sampling_prob``, up to ``num_sample_negative`` classes (else a uniform 1 ..
``num_sample_negative``; none for 0) are drawn and those that are positive left out, then
negatives are added while the caption fits. The token budget also counts the tokenizer's own
``[CLS]``/``[SEP]`` (mmdet's leaves them out, so a full caption would lose its last name to
the text encoder's truncation). The label map is not modified (mmdet's picks one name of an
``a/b`` entry in place, for good).
"""
import random
import warnings
from typing import Dict, List

import numpy as np
import torch
from mmdet.datasets.transforms.text_transformers import (RandomSamplingNegPos, clean_name,
                                                         generate_senetence_given_labels)
from mmdet.structures.bbox import BaseBoxes

from ...registry import TRANSFORMS

__all__ = ['DistinctRandomSamplingNegPos']


@TRANSFORMS.register_module()
class DistinctRandomSamplingNegPos(RandomSamplingNegPos):
    """mmdet's ``RandomSamplingNegPos`` whose negative class names exclude the positive ones.

    Args: those of mmdet's ``RandomSamplingNegPos`` (``tokenizer_name``, ``num_sample_negative``,
    ``max_tokens``, ``full_sampling_prob``, ``label_map_file``).
    """

    def _num_tokens(self, name: str) -> int:
        return len(self.tokenizer.tokenize(clean_name(name) + '. '))

    def od_aug(self, results: dict) -> dict:
        """Write the caption of a detection sample (``text``: the label map, or ``label_map_file``'s
        when the dataset gives none) and remap ``gt_bboxes_labels`` to its phrases."""
        gt_bboxes = results['gt_bboxes']
        if isinstance(gt_bboxes, BaseBoxes):
            gt_bboxes = gt_bboxes.tensor
        gt_labels = np.asarray(results['gt_bboxes_labels'], dtype=np.int64)
        label_map = results.get('text', self.label_map)
        if label_map is None:
            raise KeyError('a detection sample needs the label map: the dataset gives none '
                           '(`text`) and no label_map_file was configured')
        names: Dict[int, str] = {}
        for key, value in label_map.items():
            choices = [choice.strip() for choice in value.split('/')]
            names[int(key)] = random.choice(choices)
        budget = self.max_tokens - self.tokenizer.num_special_tokens_to_add()

        positives = [int(label) for label in np.unique(gt_labels)]
        random.shuffle(positives)
        kept: List[int] = []
        for label in positives:
            cost = self._num_tokens(names[label])
            if cost > budget:
                break
            budget -= cost
            kept.append(label)
        keep = np.isin(gt_labels, kept)
        if not keep.all():
            warnings.warn(f'{int((~keep).sum())} boxes left out: their class names do not fit '
                          f'the caption of {self.max_tokens} tokens')
        gt_bboxes = gt_bboxes[torch.from_numpy(keep) if torch.is_tensor(gt_bboxes) else keep]
        gt_labels = gt_labels[keep]

        classes = sorted(names)
        most = min(self.num_sample_negative, len(classes))
        if random.random() < self.full_sampling_prob:
            num_drawn = most
        else:
            num_drawn = min(int(np.random.choice(max(1, most))) + 1, most)
        drawn = np.random.choice(classes, size=num_drawn, replace=False)
        negatives = [int(label) for label in drawn if int(label) not in kept]
        random.shuffle(negatives)
        screened = []
        for label in negatives:
            budget -= self._num_tokens(names[label])
            if budget < 0:
                break
            screened.append(label)

        text = {str(label): name for label, name in names.items()}
        tokens_positive, caption, remap = generate_senetence_given_labels(kept, screened, text)
        results['gt_bboxes'] = gt_bboxes
        results['gt_bboxes_labels'] = np.array([remap[int(label)] for label in gt_labels],
                                               dtype=np.int64)
        results['text'] = caption
        results['tokens_positive'] = tokens_positive
        return results
