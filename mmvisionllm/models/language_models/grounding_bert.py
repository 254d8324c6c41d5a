"""mmdet's Grounding DINO text encoder (``mmdet.BertModel``) made to run on transformers 5.

Reused from mmdet 3.3: the whole ``BertModel`` (tokenisation, the sub-sentence attention mask and
position ids of Grounding DINO, the ``language_backbone.body.model`` HF BERT), so the state-dict
keys are mmdet's and an mmdet Grounding DINO checkpoint loads unchanged. mmdet's class cannot serve
as is with the installed transformers (5.x), which breaks it in two places:

* ``forward`` calls ``tokenizer.batch_encode_plus``, which transformers 5 removed (calling the
  tokenizer does the same);
* with ``use_sub_sentence_represent=True`` it passes the ``[B, L, L]`` sub-sentence mask as the
  HF ``BertModel``'s ``attention_mask``; transformers 5 builds its attention masks for 2-D
  (``[B, L]`` padding) or 4-D (``[B, 1, L, L]``) inputs only and fails on the 3-D one in
  ``expand``.

:class:`GroundingBertModel` keeps mmdet's code and fixes both without new modules or parameters:
the tokenizer is wrapped in :class:`BatchEncodePlusTokenizer` (``batch_encode_plus`` is the call),
and a forward pre-hook on the HF model turns a 3-D mask into the 4-D boolean mask transformers
reads as "may attend" (the mask mmdet returns as ``masks`` for the fusion layers stays 3-D).
The ``name`` is a local directory (``save_pretrained`` layout, e.g. bert-base-uncased downloaded
once, or the tiny encoder of :func:`~mmvisionllm.models.language_models.build_tiny_text_encoder`).
"""
from typing import Any, Dict, Tuple

from mmdet.models.language_models import BertModel
from torch import nn

from mmvisionllm.registry import MODELS
from .local_checkpoint import check_local_checkpoint

__all__ = ['GroundingBertModel', 'BatchEncodePlusTokenizer', 'sub_sentence_mask_to_4d']


class BatchEncodePlusTokenizer:
    """A HF tokenizer that also answers ``batch_encode_plus`` (removed in transformers 5).

    Every other attribute (``__call__``, ``tokenize``, ``convert_tokens_to_ids`` ...) is the wrapped
    tokenizer's.

    Args:
        tokenizer: A ``transformers`` tokenizer.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, *args, **kwargs):
        return self.tokenizer(*args, **kwargs)

    def batch_encode_plus(self, *args, **kwargs):
        """What transformers 4's ``batch_encode_plus`` did: encode a batch of texts."""
        return self.tokenizer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name == 'tokenizer':  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.tokenizer, name)


def sub_sentence_mask_to_4d(module: nn.Module, args: Tuple,
                            kwargs: Dict[str, Any]) -> Tuple[Tuple, Dict[str, Any]]:
    """Forward pre-hook of the HF BERT: a ``[B, L, L]`` attention mask becomes ``[B, 1, L, L]``
    bool (True = may attend), the 4-D form transformers 5 accepts; 2-D masks pass unchanged."""
    mask = kwargs.get('attention_mask')
    if mask is not None and mask.dim() == 3:
        kwargs = dict(kwargs, attention_mask=mask[:, None].bool())
    return args, kwargs


@MODELS.register_module()
class GroundingBertModel(BertModel):
    """mmdet's Grounding DINO ``BertModel`` that runs on transformers 5 (see the module doc).

    Args:
        name (str): Local directory of a ``transformers`` BERT and its tokenizer.
        **kwargs: mmdet ``BertModel``'s arguments (``max_tokens``, ``pad_to_max``,
            ``use_sub_sentence_represent``, ``special_tokens_list``, ``add_pooling_layer`` ...).
    """

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__(name=check_local_checkpoint(name, 'language_model.name'), **kwargs)
        self.tokenizer = BatchEncodePlusTokenizer(self.tokenizer)
        self.language_backbone.body.model.register_forward_pre_hook(
            sub_sentence_mask_to_4d, with_kwargs=True)
