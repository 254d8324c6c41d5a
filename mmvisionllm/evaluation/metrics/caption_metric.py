"""Caption metric: BLEU-4 and CIDEr from pycocoevalcap's scorers.

Reused: ``pycocoevalcap``'s ``Bleu`` and ``Cider`` scorers (the COCO caption evaluation code), fed with
a simple lower-case word tokenisation instead of its Java PTB tokenizer, so it runs without a JVM.
"""
import re
from typing import Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

from mmvisionllm.registry import METRICS

__all__ = ['CaptionMetric', 'tokenize_caption']

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize_caption(text: str) -> str:
    """Lower-case words separated by single spaces, punctuation dropped."""
    return ' '.join(_WORD.findall(text.lower()))


@METRICS.register_module()
class CaptionMetric(BaseMetric):
    """BLEU-4 and CIDEr of generated captions (``pred_text``) against ``gt_captions``.

    Args:
        collect_device (str): Device for collecting results across ranks. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'caption'.
    """
    default_prefix = 'caption'

    def __init__(self, collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Optional[dict], data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            for key in ('pred_text', 'gt_captions'):
                if key not in sample:
                    raise KeyError(f'CaptionMetric: sample {sample.get("img_id", "?")} has no `{key}`')
            if not sample['gt_captions']:
                raise ValueError(f'CaptionMetric: sample {sample.get("img_id", "?")} has no caption')
            self.results.append((tokenize_caption(sample['pred_text']),
                                 [tokenize_caption(c) for c in sample['gt_captions']]))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        predictions = {i: [pred] for i, (pred, _) in enumerate(results)}
        references = {i: refs for i, (_, refs) in enumerate(results)}
        bleu, _ = Bleu(4).compute_score(references, predictions, verbose=0)
        cider, _ = Cider().compute_score(references, predictions)
        return dict(bleu4=float(bleu[3]), cider=float(cider))
