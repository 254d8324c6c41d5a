"""The one owner of the super link's bookkeeping: routing token -> group -> query count ->
image-free, and the order in which the special tokens enter the vocabulary.

VisionLLMv2 builds one :class:`RoutingTable` from its configured decoders and its
``routing_vocabulary``; :class:`SuperLink` (query tables), :class:`ConversationTokenizer`
(placeholders, routing checks), the link-aware generator and the checkpoint extension ask it
instead of keeping their own copies. Plain Python: no library holds this mapping.
"""
from typing import Dict, List, Mapping, Optional, Sequence

__all__ = ['RoutingTable', 'UNOWNED_TOKEN_PATTERN']

#: What a routing token looks like in a text (``[DET]``, ``[CNT]``): an unknown one is an error.
UNOWNED_TOKEN_PATTERN = r'\[[A-Z][A-Z0-9_]*\]'


class RoutingTable:
    """Routing tokens, their decoder groups and query counts.

    Args:
        decoder_groups (Mapping[str, tuple]): Decoder group -> ``(routing_tokens, num_queries)``
            of its configured decoder, or ``(routing_tokens, num_queries, context_tokens)`` for a
            decoder that also takes other groups' links in samples that route to it
            (:meth:`link_groups`).
        routing_vocabulary (Sequence[str]): Routing tokens always in the vocabulary (whether or not
            a decoder is configured for them), in vocabulary order.
        image_free_groups (Sequence[str]): Groups whose decoder works without an input image.
        placeholder_tokens (Sequence[str]): Tokens entering the vocabulary before the routing
            tokens (``<image>``, ``<region>``, ``[EMB]``).
        role_tokens (Sequence[str]): Tokens of the conversation template, after the routing
            vocabulary.
        vocabulary_order (Sequence[str], optional): An explicit order of the special tokens
            (e.g. the 26 tokens of the official VisionLLM v2 release, ids 32000-32025 after
            Vicuna's vocabulary); tokens the model needs that it lacks follow it. None: the
            default order (placeholders, routing vocabulary, role tokens, plugin tokens).
        query_placeholders (Mapping[str, Sequence[str]], optional): Group -> the N placeholder
            tokens written after each of its routing tokens, in order (the official release
            writes ``[EMB] [EMB2] [EMB3] [EMB4]`` after a perception token). A group left out
            takes N copies of ``query_token``.
        query_token (str): The default query placeholder. Defaults to ``'[EMB]'``.

    Raises:
        ValueError: If two decoder groups claim the same routing token, or a context token is
            no other group's routing token, is claimed by two groups or has another N.
    """

    def __init__(self,
                 decoder_groups: Mapping[str, tuple],
                 routing_vocabulary: Sequence[str],
                 image_free_groups: Sequence[str] = (),
                 placeholder_tokens: Sequence[str] = ('<image>', '<region>', '[EMB]'),
                 role_tokens: Sequence[str] = (),
                 vocabulary_order: Optional[Sequence[str]] = None,
                 query_placeholders: Optional[Mapping[str, Sequence[str]]] = None,
                 query_token: str = '[EMB]') -> None:
        self.group_of: Dict[str, str] = {}
        self.num_queries: Dict[str, int] = {}
        self.context_of: Dict[str, str] = {}  # context token -> the group that reads it
        for group, (tokens, num_queries, *context) in decoder_groups.items():
            self.num_queries[group] = int(num_queries)
            for token in (context[0] if context else ()):
                if token in self.context_of:
                    raise ValueError(f'context token {token} is claimed by decoder groups '
                                     f'{self.context_of[token]!r} and {group!r}')
                self.context_of[token] = group
            for token in tokens:
                if token in self.group_of:
                    raise ValueError(f'routing token {token} is claimed by decoder groups '
                                     f'{self.group_of[token]!r} and {group!r}')
                self.group_of[token] = group
        for token, group in self.context_of.items():
            owner = self.group_of.get(token)
            if owner is None or owner == group:
                raise ValueError(f'decoder group {group!r} reads the links of {token} '
                                 '(context_tokens), which no other group owns')
            if self.num_queries[owner] != self.num_queries[group]:
                raise ValueError(f'decoder group {group!r} reads the links of {token} but has '
                                 f'{self.num_queries[group]} queries per link, group {owner!r} '
                                 f'{self.num_queries[owner]}')
        self.routing_vocabulary = list(dict.fromkeys(routing_vocabulary))
        self.image_free_groups = tuple(g for g in image_free_groups if g in self.num_queries)
        self.placeholder_tokens = tuple(placeholder_tokens)
        self.role_tokens = tuple(role_tokens)
        self.vocabulary_order = None if vocabulary_order is None else tuple(vocabulary_order)
        self.query_token = query_token
        self.group_placeholders: Dict[str, List[str]] = {}
        for group, n in self.num_queries.items():
            tokens = list((query_placeholders or {}).get(group) or [query_token] * n)
            if len(tokens) != n:
                raise ValueError(f'query_placeholders[{group!r}] has {len(tokens)} tokens but the '
                                 f'group has {n} queries')
            self.group_placeholders[group] = tokens
        unknown = set(query_placeholders or {}) - set(self.num_queries)
        if unknown:
            raise ValueError(f'query_placeholders names groups {sorted(unknown)} that have '
                             f'neither a decoder nor a query table ({sorted(self.num_queries)})')

    def link_groups(self, tokens: Sequence[str]) -> List[str]:
        """The group each link of one sample goes to, for its routing tokens in answer order.

        A link goes to the group owning its token, except a context token's link in a sample
        that also has a link of the group reading it (e.g. the person ``[DET]`` of an official
        pose answer goes with its ``[POSE]`` links to the pose decoder). One rule for teacher
        forcing (:class:`SuperLink`) and free-running chat.
        """
        present = {self.group_of[t] for t in tokens}
        return [
            self.context_of[t] if self.context_of.get(t) in present else self.group_of[t]
            for t in tokens
        ]

    def tokens_of(self, group: str) -> List[str]:
        """Routing tokens of a group's decoder, in its declaration order."""
        return [t for t, g in self.group_of.items() if g == group]

    @property
    def new_routing_tokens(self) -> List[str]:
        """Decoder tokens outside ``routing_vocabulary`` (a plugin's), in decoder order."""
        return [t for t in self.group_of if t not in self.routing_vocabulary]

    @property
    def routing_tokens(self) -> List[str]:
        """Every routing token the vocabulary holds (``routing_vocabulary`` first)."""
        return self.routing_vocabulary + self.new_routing_tokens

    def vocabulary_tokens(self) -> List[str]:
        """The special tokens in the order they are added to the tokenizer.

        The core's tokens keep their places (placeholders, routing vocabulary, role tokens, as
        before any plugin existed); a plugin's routing tokens come after all of them, so adding a
        decoder never moves an existing id.
        """
        query_tokens = [t for tokens in self.group_placeholders.values() for t in tokens]
        default = list(self.placeholder_tokens) + self.routing_vocabulary + \
            list(self.role_tokens) + self.new_routing_tokens + query_tokens
        return list(dict.fromkeys(list(self.vocabulary_order or ()) + default))

    def query_placeholders(self) -> Dict[str, List[str]]:
        """Routing token -> its N placeholder tokens, for every token with a query table."""
        return {t: list(self.group_placeholders[g]) for t, g in self.group_of.items()}

    def query_counts(self) -> Dict[str, int]:
        """Routing token -> N for every token with a decoder."""
        return {t: self.num_queries[g] for t, g in self.group_of.items()}

    def image_free_tokens(self) -> List[str]:
        """Routing tokens whose decoder needs no image."""
        return [t for t, g in self.group_of.items() if g in self.image_free_groups]

    def super_link_groups(self) -> Dict[str, dict]:
        """``SuperLink``'s ``groups`` argument."""
        return {
            g:
            dict(
                routing_tokens=self.tokens_of(g),
                num_queries=n,
                placeholders=list(self.group_placeholders[g]))
            for g, n in self.num_queries.items()
        }
