"""Token ids and LM labels of a conversation, with the multimodal placeholders in place.

Reuses the HF tokenizer for the text (the special tokens it was given are never split) and
:class:`ConversationTemplate` for the layout. On top of that it applies the sequence rules of
VisionLLM v2 that the model relies on:

* ``<image>`` becomes ``num_tiles * tokens_per_tile`` copies of itself, or of the
  ``image_patch_token`` when one is given (the official release writes ``<im_patch>``); their
  embeddings are later replaced by projected CLIP features, tile by tile, thumbnail last;
* every routing token of a configured decoder is followed by its group's ``N`` placeholders
  (``[EMB]`` x N by default, ``query_placeholders`` otherwise; their embeddings are later replaced
  by the query table);
* labels supervise answers only (routing tokens included) and ignore (-100) every placeholder;
* a bracketed routing-token-like word (``[XYZ]``) in an answer that no decoder owns and the
  vocabulary does not know, and a word of a sample's text that the tokenizer can only encode as
  ``<unk>`` (a word-level tokenizer's template or answer word outside its vocabulary), are errors
  naming the word and the text, instead of silently becoming ``<unk>`` and training as plain text
  (a chat request to be answered may hold unknown words: they stay ``<unk>``).
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmvisionllm.registry import MODELS
from ..super_link.routing_table import UNOWNED_TOKEN_PATTERN
from .conversation_template import ConversationTemplate

__all__ = ['ConversationTokenizer', 'EncodedConversation', 'EncodedTurn', 'IGNORE_INDEX']

IGNORE_INDEX = -100


@dataclass
class EncodedTurn:
    """Token ids of one exchange. ``answer_ids`` is None when the answer is to be generated."""

    prompt_ids: List[int]
    answer_ids: Optional[List[int]] = None


@dataclass
class EncodedConversation:
    """A whole conversation as one sequence with its LM labels (same length)."""

    input_ids: List[int] = field(default_factory=list)
    labels: List[int] = field(default_factory=list)


@MODELS.register_module()
class ConversationTokenizer:
    """Encode LLaVA conversations for VisionLLMv2.

    Args:
        tokenizer: A HF tokenizer that already holds the special tokens below.
        template (ConversationTemplate): The text layout.
        tokens_per_tile (int): Number of vision tokens per CLIP tile (L).
        query_counts (dict[str, int]): Routing token -> number of query placeholders N, for the
            routing tokens that have a decoder.
        routing_vocabulary (Sequence[str]): Every routing token the vocabulary knows (a superset of
            ``query_counts``); one of them without a decoder is an error.
        image_free_routing_tokens (Sequence[str]): Routing tokens whose decoder works without an
            input image (text-to-image generation); any other routing token needs ``<image>``.
        image_token (str): The image marker of the prompt text. Defaults to ``'<image>'``.
        query_token (str): The default query placeholder. Defaults to ``'[EMB]'``.
        image_patch_token (str, optional): The token repeated once per vision token in place of
            the marker. Defaults to ``image_token``.
        query_placeholders (dict[str, Sequence[str]], optional): Routing token -> its N
            placeholder tokens (default N x ``query_token``).
    """

    def __init__(self,
                 tokenizer,
                 template: ConversationTemplate,
                 tokens_per_tile: int,
                 query_counts: Dict[str, int],
                 routing_vocabulary: Sequence[str],
                 image_free_routing_tokens: Sequence[str] = (),
                 image_token: str = '<image>',
                 query_token: str = '[EMB]',
                 image_patch_token: Optional[str] = None,
                 query_placeholders: Optional[Dict[str, Sequence[str]]] = None) -> None:
        self.tokenizer = tokenizer
        self.template = template
        self.tokens_per_tile = int(tokens_per_tile)
        self.image_token = image_token
        self.image_marker_id = self.token_id(image_token)
        self.image_token_id = self.token_id(image_patch_token or image_token)
        self.query_token_id = self.token_id(query_token)
        self.eos_token_id = tokenizer.eos_token_id
        if self.eos_token_id is None:
            raise ValueError('the tokenizer has no eos_token; it ends every answer')
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else self.eos_token_id
        self.bos_token_id = tokenizer.bos_token_id if template.add_bos else None
        self.query_counts = {self.token_id(tok): int(n) for tok, n in query_counts.items()}
        #: routing token id -> the ids of its N placeholders
        self.query_ids: Dict[int, List[int]] = {}
        for tok, n in query_counts.items():
            names = (query_placeholders or {}).get(tok) or [query_token] * int(n)
            if len(names) != int(n):
                raise ValueError(f'query_placeholders[{tok!r}] has {len(names)} tokens for {n} '
                                 'queries')
            self.query_ids[self.token_id(tok)] = [self.token_id(p) for p in names]
        #: every placeholder id (ignored by the LM loss, never generated)
        used = {i for ids in self.query_ids.values() for i in ids}
        self.placeholder_ids = sorted(used | {self.query_token_id})
        self.routing_token_names = {self.token_id(tok): tok for tok in routing_vocabulary}
        self.routing_token_names.update({self.token_id(tok): tok for tok in query_counts})
        self.image_free_routing_ids = {self.token_id(tok) for tok in image_free_routing_tokens}

    def token_id(self, token: str) -> int:
        """The id of a single-token string, or a clear error when the vocabulary lacks it."""
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            raise KeyError(f'{token!r} is not a token of the tokenizer; add it as a special token')
        return token_id

    def check_routable(self, token_id: int, has_image: bool) -> None:
        """Raise a clear error if a routing token has no decoder, or needs an absent image."""
        if token_id in self.routing_token_names and token_id not in self.query_counts:
            name = self.routing_token_names[token_id]
            configured = sorted(self.routing_token_names[t] for t in self.query_counts)
            raise ValueError(
                f'routing token {name} has no registered decoder (decoders are configured '
                f'for {configured}); add one under `decoders` in the model config')
        if token_id in self.query_counts and not has_image \
                and token_id not in self.image_free_routing_ids:
            raise ValueError(
                f'routing token {self.routing_token_names[token_id]} calls a decoder that '
                'needs an image, but the sample has no image (no <image> in the prompt / '
                "inputs['clip'] is None)")

    def _check_routing_words(self, text: str) -> None:
        known = set(self.routing_token_names.values()) | set(self.tokenizer.get_added_vocab())
        unowned = [
            w for w in dict.fromkeys(re.findall(UNOWNED_TOKEN_PATTERN, text)) if w not in known
        ]
        if unowned:
            configured = sorted(self.routing_token_names[t] for t in self.query_counts)
            raise ValueError(
                f'{unowned} in {text!r} look like routing tokens but no configured decoder owns '
                f'them and the routing_vocabulary does not hold them (decoders are configured '
                f'for {configured}); configure the decoder of that task under `decoders`')

    def _check_known_words(self, text: str) -> None:
        """Raise naming the words of ``text`` the tokenizer can only encode as ``<unk>``."""
        unk = self.tokenizer.unk_token_id
        if unk is None:
            return
        encoded = self.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=self.tokenizer.is_fast)
        ids = encoded['input_ids']
        if unk in ids:
            offsets = encoded.get('offset_mapping')
            words = [text[a:b] for i, (a, b) in zip(ids, offsets) if i == unk] if offsets \
                else ['?']
            raise ValueError(
                f'words {list(dict.fromkeys(words))} of {text!r} are not in the tokenizer\'s '
                'vocabulary (they would become <unk>); for the word-level ShapesWorld tokenizer '
                "add them to the task's templates/answers and regenerate it, or reword")

    def _text_ids(self, text: str, is_answer: bool = False) -> List[int]:
        if is_answer:
            self._check_routing_words(text)
        return self.tokenizer(text, add_special_tokens=False)['input_ids']

    def _expand_image(self, ids: List[int], num_image_tiles: int) -> List[int]:
        expanded: List[int] = []
        for token_id in ids:
            if token_id == self.image_marker_id:
                expanded.extend([self.image_token_id] * (num_image_tiles * self.tokens_per_tile))
            else:
                expanded.append(token_id)
        return expanded

    def insert_queries(self, ids: Sequence[int], has_image: bool) -> List[int]:
        """Insert the query placeholders after every routing token of ``ids``.

        Args:
            ids (Sequence[int]): Token ids without placeholders.
            has_image (bool): Whether the sample has an image (for the routing checks).

        Returns:
            list[int]: The ids with the ``N`` placeholder ids after each routing token.
        """
        expanded: List[int] = []
        for token_id in ids:
            self.check_routable(token_id, has_image)
            expanded.append(token_id)
            expanded.extend(self.query_ids.get(token_id, ()))
        return expanded

    def encode_turns(self,
                     conversation: Sequence[dict],
                     num_image_tiles: int,
                     drop_last_answer: bool = False) -> List[EncodedTurn]:
        """Encode a conversation turn by turn (the form used for generation).

        Args:
            conversation (Sequence[dict]): LLaVA turns.
            num_image_tiles (int): Number of CLIP tiles of the sample's image, 0 for no image.
            drop_last_answer (bool): Leave the last answer out, to be generated.

        Returns:
            list[EncodedTurn]: The prompt ids (BOS on the first) and answer ids (queries inserted,
            EOS appended) of each exchange.
        """
        turns = self.template.render(conversation, drop_last_answer=drop_last_answer)
        num_image_markers = sum(turn.prompt.count(self.image_token) for turn in turns)
        if num_image_markers > 1:
            raise ValueError(
                f'a conversation may hold one {self.image_token}, found {num_image_markers}')
        if num_image_markers == 1 and num_image_tiles == 0:
            raise ValueError(f'the prompt has {self.image_token} but the sample has no image '
                             "(inputs['clip'] is None)")
        if num_image_markers == 0 and num_image_tiles > 0:
            raise ValueError(f'the sample has an image but its prompt has no {self.image_token}: '
                             f'put "{self.image_token}\\n" at the start of the first human turn')
        has_image = num_image_tiles > 0
        if not drop_last_answer:  # a sample's text (a user's chat request may hold any word)
            for message in conversation:
                if message.get('from') != 'human':
                    self._check_routing_words(message['value'])
                self._check_known_words(message['value'])
        encoded: List[EncodedTurn] = []
        for index, turn in enumerate(turns):
            prompt_ids = self._expand_image(self._text_ids(turn.prompt), num_image_tiles)
            prompt_ids = self.insert_queries(prompt_ids, has_image)
            if index == 0 and self.bos_token_id is not None:
                prompt_ids = [self.bos_token_id] + prompt_ids
            answer_ids = None
            if turn.answer is not None:
                answer_ids = self.insert_queries(self._text_ids(turn.answer, True), has_image)
                answer_ids.append(self.eos_token_id)
            encoded.append(EncodedTurn(prompt_ids=prompt_ids, answer_ids=answer_ids))
        return encoded

    def encode(self, conversation: Sequence[dict], num_image_tiles: int) -> EncodedConversation:
        """Encode a whole conversation into one sequence and its LM labels (training/teacher
        forcing).

        Args:
            conversation (Sequence[dict]): LLaVA turns.
            num_image_tiles (int): Number of CLIP tiles of the sample's image, 0 for no image.

        Returns:
            EncodedConversation: ``input_ids`` and ``labels`` (answers supervised, placeholders and
            prompts ignored).
        """
        result = EncodedConversation()
        placeholders = set(self.placeholder_ids)
        for turn in self.encode_turns(conversation, num_image_tiles):
            result.input_ids += turn.prompt_ids
            result.labels += [IGNORE_INDEX] * len(turn.prompt_ids)
            if turn.answer_ids is not None:
                result.input_ids += turn.answer_ids
                result.labels += [
                    IGNORE_INDEX if token_id in placeholders else token_id
                    for token_id in turn.answer_ids
                ]
        return result
