"""Caption metric: BLEU-4 and CIDEr from pycocoevalcap's scorers.

Reused: ``pycocoevalcap``'s ``Bleu`` and ``Cider`` scorers (the COCO caption evaluation code),
fed with a simple lower-case word tokenisation instead of its Java PTB tokenizer (no JVM needed).

With ``shuffled_references`` the metric also scores every caption against the references of the
next image (a fixed derangement): a captioner that ignores the image scores the same both ways (a
constant caption exactly the same), so the matched score must beat the shuffled one before a caption
figure says anything about the image.
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

    Reported: ``bleu4``, ``cider`` and, with ``shuffled_references``, ``bleu4_shuffled`` and
    ``cider_shuffled`` (each caption against the next sample's references, see the module).

    Args:
        shuffled_references (bool): Also score the shuffled pairing. Defaults to False.
        collect_device (str): Device for collecting results across ranks. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'caption'.
    """
    default_prefix = 'caption'

    def __init__(self,
                 shuffled_references: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.shuffled_references = shuffled_references

    def process(self, data_batch: Optional[dict], data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            img_id = sample.get('img_id', '?')
            for key in ('pred_text', 'gt_captions'):
                if key not in sample:
                    raise KeyError(f'CaptionMetric: sample {img_id} has no `{key}`')
            if not sample['gt_captions']:
                raise ValueError(f'CaptionMetric: sample {img_id} has no caption')
            self.results.append((tokenize_caption(sample['pred_text']),
                                 [tokenize_caption(c) for c in sample['gt_captions']]))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        predictions = [pred for pred, _ in results]
        references = [refs for _, refs in results]
        metrics = _score(predictions, references)
        if self.shuffled_references:
            if len(results) < 2:
                raise ValueError('CaptionMetric(shuffled_references=True) needs at least 2 samples')
            shuffled = _score(predictions, references[1:] + references[:1])
            metrics.update({f'{key}_shuffled': value for key, value in shuffled.items()})
        return metrics


def _score(predictions: List[str], references: List[List[str]]) -> Dict[str, float]:
    """BLEU-4 and CIDEr of tokenised captions, prediction i against references i."""
    preds = {i: [pred] for i, pred in enumerate(predictions)}
    refs = dict(enumerate(references))
    bleu, _ = Bleu(4).compute_score(refs, preds, verbose=0)
    cider, _ = Cider().compute_score(refs, preds)
    return dict(bleu4=float(bleu[3]), cider=float(cider))
