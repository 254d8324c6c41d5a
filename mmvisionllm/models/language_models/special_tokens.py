"""Adding special tokens to a tokenizer and a causal LM, with mean-initialised embedding rows.

Reuses ``tokenizer.add_tokens(..., special_tokens=True)`` (added tokens are matched before the
tokenizer's own splitting, so ``[DET]`` or ``<image>`` stay one token) and HF
``resize_token_embeddings``. New rows are set to the mean of the existing rows, in the input and in
the (untied) output embeddings, also when they take padding rows the embedding already had (Qwen2):
a new token then starts as an "average" token instead of a random outlier, which keeps the initial
LM loss and logits of a pretrained model unchanged in scale.
"""
from typing import Dict, Sequence

import torch
from transformers import AddedToken, PreTrainedModel

__all__ = ['add_special_tokens_with_mean_init']


def add_special_tokens_with_mean_init(tokenizer, model: PreTrainedModel,
                                      tokens: Sequence[str]) -> Dict[str, int]:
    """Add ``tokens`` to ``tokenizer`` and grow ``model``'s embeddings to match.

    Args:
        tokenizer: A HF tokenizer.
        model (PreTrainedModel): The causal LM whose input/output embeddings follow the tokenizer.
        tokens (Sequence[str]): Special tokens to add; those already present are kept as they are.

    Returns:
        dict[str, int]: Token -> id for every token of ``tokens``.
    """
    vocab = tokenizer.get_vocab()
    num_words = len(tokenizer)  # rows of the tokens the LM was trained on
    missing = [tok for tok in dict.fromkeys(tokens) if tok not in vocab]
    if missing:
        tokenizer.add_tokens([AddedToken(tok, special=True, normalized=False) for tok in missing],
                             special_tokens=True)
    if tokenizer.eos_token is None:
        tokenizer.add_special_tokens({'eos_token': '</s>'})
    new_ids = sorted(set(range(num_words, len(tokenizer))))
    num_old_rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > num_old_rows:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    if new_ids:
        # Qwen2 pads its embedding beyond the tokenizer (151936 rows for 151646 tokens): the new
        # tokens then take untrained padding rows, which are set to the mean as well
        mean_rows = min(num_words, num_old_rows)
        with torch.no_grad():
            input_rows = model.get_input_embeddings().weight
            input_rows[new_ids] = input_rows[:mean_rows].mean(0, keepdim=True)
            output_embeddings = model.get_output_embeddings()
            if output_embeddings is not None \
                    and output_embeddings.weight is not input_rows:
                output_rows = output_embeddings.weight
                output_rows[new_ids] = output_rows[:mean_rows].mean(0, keepdim=True)
                bias = getattr(output_embeddings, 'bias', None)
                if bias is not None:
                    bias[new_ids] = bias[:mean_rows].mean()
    return {tok: tokenizer.convert_tokens_to_ids(tok) for tok in tokens}
