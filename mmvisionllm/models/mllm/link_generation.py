"""Free-running greedy generation with live routing (the chat path of VisionLLMv2).

Greedy decoding over a HF KV cache (``transformers.DynamicCache``, passed to every forward so the
prefix is processed once). Whenever the LLM emits a routing token of a configured decoder, its N
query embeddings are fed right after it (one forward of ``[routing token, [EMB] x N]``), their
last-layer hidden states are kept as that target's link embeddings, and decoding continues from the
last query position, exactly the layout the model was trained on. The caller hands the collected
links to the decoders. Multi-turn conversations share the cache: given answers (history) are fed as
they are, missing ones are generated.

HF ``generate`` is not used because the input of the step after a routing token is not a sampled
token but the N query embeddings, which its logits processors cannot express. Batch size is 1 (one
conversation); batching across samples is left to the caller.

The placeholders (``<image>``, ``<region>``, the query placeholders) are never generated: their
logits are set to -inf with transformers' ``SuppressTokensLogitsProcessor`` before the argmax
(the bad-words rule of HF generation). Emitted, they would be filled with features that do not
exist ("1 image placeholders in the tokens but 0 image embeddings", e.g. from an untrained or
unloaded model).
"""
import inspect
import re
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import torch
from torch import Tensor
from transformers import DynamicCache, SuppressTokensLogitsProcessor

from ..language_models.conversation_tokenizer import ConversationTokenizer, EncodedTurn

__all__ = ['EmittedLink', 'GeneratedTurn', 'LinkAwareGreedyGenerator']

_LEADING_SEPARATORS = re.compile(r'^[\s,;:.]*(?:and\s+)?')


@dataclass
class EmittedLink:
    """One routing token emitted during generation.

    Attributes:
        routing_token (str): E.g. ``'[DET]'``.
        group (str): The decoder group it calls: its token's group, or the group reading it as a
            context token when the answer also links to that group (``link_router``).
        target_name (str): The text generated between the previous routing token (or the start of
            the answer) and this one, without leading separators, e.g. ``'circle'``.
        embeds (Tensor): [N, C] link embeddings (last-layer hidden states of its queries).
    """

    routing_token: str
    group: str
    target_name: str
    embeds: Tensor


@dataclass
class GeneratedTurn:
    """A generated answer: its text (routing tokens kept, placeholders dropped), ids and links."""

    text: str
    token_ids: List[int] = field(default_factory=list)
    links: List[EmittedLink] = field(default_factory=list)


class LinkAwareGreedyGenerator:
    """Greedy decoding that calls into the super link.

    Args:
        llm: The model's :class:`HFCausalLM`.
        conversation_tokenizer (ConversationTokenizer): Ids and routing rules.
        group_of_token (dict[int, str]): Routing token id -> decoder group.
        embed_chunk (Callable): The model's input embedding (features and query rows written in):
            ``embed_chunk(ids [1, l], image_tokens, region_tokens) -> [1, l, C]``.
        max_new_tokens (int): Longest generated answer (placeholders not counted).
        suppress_token_ids (Sequence[int]): Tokens never to generate besides the image and query
            placeholders, which are always suppressed (e.g. the ``<region>`` placeholder).
        link_router (Callable, optional): An answer's routing tokens -> the group of each link
            (:meth:`RoutingTable.link_groups`), applied when the answer ends. None: each token's
            group.
    """

    def __init__(self,
                 llm,
                 conversation_tokenizer: ConversationTokenizer,
                 group_of_token: dict,
                 embed_chunk: Callable,
                 max_new_tokens: int = 64,
                 suppress_token_ids: Sequence[int] = (),
                 link_router: Optional[Callable[[Sequence[str]], List[str]]] = None) -> None:
        self.llm = llm
        self.link_router = link_router
        self.tokenizer = conversation_tokenizer
        self.group_of_token = group_of_token
        self.embed_chunk = embed_chunk
        self.max_new_tokens = max_new_tokens
        self.suppressed = sorted({
            conversation_tokenizer.image_token_id, conversation_tokenizer.image_marker_id,
            *conversation_tokenizer.placeholder_ids, *suppress_token_ids
        })
        self.suppress = SuppressTokensLogitsProcessor(self.suppressed)
        base_model = llm.model
        if hasattr(base_model, 'get_base_model'):  # peft wrapper
            base_model = base_model.get_base_model()
        # transformers 5.x renamed `past_key_values` to `cache` (the old name still works, warning).
        parameters = inspect.signature(base_model.forward).parameters
        self.cache_argument = 'cache' if 'cache' in parameters else 'past_key_values'

    def _forward(self,
                 ids: List[int],
                 cache: DynamicCache,
                 image_tokens: Optional[Tensor],
                 region_tokens: Optional[Tensor],
                 device: torch.device,
                 hidden: bool = False):
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        embeds = self.embed_chunk(input_ids, image_tokens, region_tokens)
        return self.llm(
            inputs_embeds=embeds,
            use_cache=True,
            output_hidden_states=hidden,
            **{self.cache_argument: cache})

    def _target_name(self, ids: List[int]) -> str:
        text = self.tokenizer.tokenizer.decode(ids, skip_special_tokens=True)
        return _LEADING_SEPARATORS.sub('', text).strip()

    @torch.no_grad()
    def generate(self, turns: List[EncodedTurn], image_tokens: Optional[Tensor],
                 region_tokens: Optional[Tensor], has_image: bool,
                 device: torch.device) -> List[GeneratedTurn]:
        """Run a conversation, generating every missing answer.

        Args:
            turns (list[EncodedTurn]): From ``ConversationTokenizer.encode_turns``; an
                ``answer_ids`` of None is generated.
            image_tokens (Tensor, optional): [num_image_tokens, C] projected vision tokens, written
                into the ``<image>`` placeholders (all in the first prompt).
            region_tokens (Tensor, optional): [R, C] region tokens for the ``<region>``
                placeholders.
            has_image (bool): Whether the sample has an image (routing tokens may need one).
            device (torch.device): Device of the ids.

        Returns:
            list[GeneratedTurn]: One per generated answer, in order.
        """
        cache = DynamicCache()
        eos = self.tokenizer.eos_token_id
        pending: List[int] = []
        generated: List[GeneratedTurn] = []
        visual = dict(image_tokens=image_tokens, region_tokens=region_tokens)
        for turn in turns:
            pending += turn.prompt_ids
            if turn.answer_ids is not None:
                pending += turn.answer_ids
                continue
            outputs = self._forward(pending, cache, device=device, **visual)
            visual = dict(image_tokens=None, region_tokens=None)
            pending = []
            result = GeneratedTurn(text='')
            name_start = 0
            for _ in range(self.max_new_tokens):
                scores = self.suppress(None, outputs.logits[:, -1].float())  # no placeholder
                token_id = int(scores[0].argmax())
                if token_id == eos:
                    break
                self.tokenizer.check_routable(token_id, has_image)
                result.token_ids.append(token_id)
                if token_id in self.group_of_token:
                    ids = [token_id] + self.tokenizer.query_ids[token_id]
                    outputs = self._forward(ids, cache, None, None, device, hidden=True)
                    result.links.append(
                        EmittedLink(
                            routing_token=self.tokenizer.routing_token_names[token_id],
                            group=self.group_of_token[token_id],
                            target_name=self._target_name(result.token_ids[name_start:-1]),
                            embeds=outputs.hidden_states[-1][0, 1:]))
                    name_start = len(result.token_ids)
                else:
                    outputs = self._forward([token_id], cache, None, None, device)
            if self.link_router is not None and result.links:
                groups = self.link_router([link.routing_token for link in result.links])
                for link, group in zip(result.links, groups):
                    link.group = group
            pending = [eos]
            # routing tokens stay in the text; no space before punctuation ("circle [DET], ...")
            result.text = self.tokenizer.tokenizer.decode(
                result.token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=True)
            generated.append(result)
        return generated
