"""Map an mmdet Grounding DINO checkpoint onto the link decoder (``LinkGroundingDINODecoder``).

``LinkGroundingDINO`` keeps every module name of mmdet's ``GroundingDINO`` except the text branch,
so the mapping is: drop ``language_model.*`` (BERT) and ``text_feat_map.*`` (BERT 768 → 256; its
role is taken by the link projection, which starts from scratch), prefix the rest with the
detector's path (``detector.`` inside the plugin, ``decoders.det.detector.`` inside VisionLLMv2),
and, given the target state dict, keep only keys whose shapes agree. The detector's parts that are
new (the mask branch, a stride-4 backbone norm) are reported as missing; the plugin's own
``link_proj`` lies outside the detector's prefix (the converter tool lists it too).

This works on mmdet-format checkpoints (e.g. mmdet's ``groundingdino_swint_ogc_mmdet-*.pth``); the
official IDEA-Research checkpoint is first converted with mmdet's own
``tools/model_converters/groundingdino_to_mmdet.py``.
"""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

from torch import Tensor

__all__ = ['GDINO_TEXT_PREFIXES', 'GDINOConversion', 'convert_gdino_state_dict']

#: Key prefixes of mmdet GroundingDINO's text branch, which the link decoder does not have.
GDINO_TEXT_PREFIXES = ('language_model.', 'text_feat_map.')


@dataclass
class GDINOConversion:
    """Result of :func:`convert_gdino_state_dict`.

    Attributes:
        state_dict: the mapped weights (target key → tensor), ready for ``load_state_dict``.
        dropped: source keys of the text branch that were left out.
        mismatched: target keys whose source shape differs (left out), with both shapes.
        unexpected: mapped keys that the target does not have (left out).
        missing: target keys that received nothing (newly initialised parts).
    """
    state_dict: 'OrderedDict[str, Tensor]'
    dropped: List[str] = field(default_factory=list)
    mismatched: Dict[str, tuple] = field(default_factory=dict)
    unexpected: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)


def convert_gdino_state_dict(source: Mapping[str, Tensor],
                             prefix: str = 'detector.',
                             target: Optional[Mapping[str, Tensor]] = None,
                             text_prefixes: Sequence[str] = GDINO_TEXT_PREFIXES) -> GDINOConversion:
    """Map mmdet GroundingDINO weights to the link decoder's keys.

    Args:
        source (Mapping[str, Tensor]): an mmdet GroundingDINO state dict (a checkpoint's
            ``state_dict``; a leading ``module.`` from DDP is stripped).
        prefix (str): path of the ``LinkGroundingDINO`` module in the target model. Defaults to
            ``'detector.'`` (the plugin on its own).
        target (Mapping[str, Tensor], optional): the target model's state dict; when given, keys
            are checked against it (presence and shape).
        text_prefixes (Sequence[str]): source prefixes to drop.

    Returns:
        GDINOConversion: mapped weights and the report.
    """
    result = GDINOConversion(state_dict=OrderedDict())
    for key, value in source.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.startswith(tuple(text_prefixes)):
            result.dropped.append(key)
            continue
        new_key = prefix + key
        if target is not None:
            if new_key not in target:
                result.unexpected.append(new_key)
                continue
            if tuple(target[new_key].shape) != tuple(value.shape):
                result.mismatched[new_key] = (tuple(value.shape), tuple(target[new_key].shape))
                continue
        result.state_dict[new_key] = value
    if target is not None:
        result.missing = [
            key for key in target if key.startswith(prefix) and key not in result.state_dict
        ]
    return result
