"""The super link of VisionLLM v2: routing tokens, query tables and link embeddings.

One learnable query table (``nn.Embedding`` of N rows) per decoder group (or, for the paper's
multi-task ablation, one table that every group shares: ``shared_table=True``). In a token sequence
every routing token of a group is followed by its N placeholders (N ``[EMB]`` by default; a group
may name its own, e.g. the official release's ``[EMB] [EMB2] [EMB3] [EMB4]``; inserted by
:class:`ConversationTokenizer`); :meth:`SuperLink.embed_queries` writes the table rows into their
input embeddings, and :meth:`SuperLink.extract` reads the LLM's last-layer hidden states there into
``[B, T, N, C]`` + mask per group (the decoder plugin contract). Plain PyTorch indexing: there is
no library module for this.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmvisionllm.registry import MODELS

__all__ = ['SuperLink', 'LinkGroupEmbeddings']


@dataclass
class LinkGroupEmbeddings:
    """Link embeddings of one decoder group in a batch.

    Attributes:
        embeds (Tensor): [B', T, N, C] last-layer hidden states at the query positions.
        mask (Tensor): [B', T] bool, True where a target exists.
        sample_indices (list[int]): Batch index of each of the B' rows (only samples with at least
            one routing token of the group are kept).
        link_tokens (list[list[str]]): Routing token of each target, per row.
    """

    embeds: Tensor
    mask: Tensor
    sample_indices: List[int]
    link_tokens: List[List[str]]


@MODELS.register_module()
class SuperLink(BaseModule):
    """Query tables and link-embedding extraction.

    Args:
        groups (Mapping[str, dict]): Decoder group -> ``dict(routing_tokens=..., num_queries=N)``,
            optionally with ``placeholders`` (the N placeholder tokens after each routing token,
            default N x ``query_token``).
        token_ids (Mapping[str, int]): Token -> id for the routing tokens and placeholders.
        hidden_size (int): LLM width C.
        query_token (str): The placeholder token. Defaults to ``'[EMB]'``.
        init_std (float): Std of the normal init of the query tables. Defaults to 0.02.
        link_router (Callable, optional): Routing tokens of one sample (in order) -> the group of
            each link (:meth:`RoutingTable.link_groups`). None: the group owning each token.
        shared_table (bool): One query table for every group instead of one per group (the
            ablation of the super link's per-task queries; every group then needs the same N).
            ``query_tables.<group>`` still names it under each group, so checkpoints keep their
            keys. Defaults to False.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 groups: Mapping[str, dict],
                 token_ids: Mapping[str, int],
                 hidden_size: int,
                 query_token: str = '[EMB]',
                 init_std: float = 0.02,
                 link_router: Optional[Callable[[Sequence[str]], List[str]]] = None,
                 shared_table: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.link_router = link_router
        self.query_token_id = int(token_ids[query_token])
        self.query_tables = nn.ModuleDict()
        self.placeholder_ids: Dict[str, Tensor] = {}
        self.group_of_token: Dict[int, str] = {}
        self.token_names: Dict[int, str] = {}
        self.shared_table = shared_table
        if shared_table and len({int(spec['num_queries']) for spec in groups.values()}) > 1:
            raise ValueError('shared_table=True needs the same num_queries in every group, got ' +
                             str({
                                 g: int(spec['num_queries'])
                                 for g, spec in groups.items()
                             }))
        table = None
        for group, spec in groups.items():
            if table is None or not shared_table:
                table = nn.Embedding(int(spec['num_queries']), hidden_size)
                nn.init.normal_(table.weight, std=init_std)
            self.query_tables[group] = table
            placeholders = spec.get('placeholders') or [query_token] * int(spec['num_queries'])
            if len(placeholders) != int(spec['num_queries']):
                raise ValueError(f'group {group!r}: {len(placeholders)} placeholders for '
                                 f'{spec["num_queries"]} queries')
            self.placeholder_ids[group] = torch.tensor([int(token_ids[t]) for t in placeholders])
            for token in spec['routing_tokens']:
                token_id = int(token_ids[token])
                if token_id in self.group_of_token:
                    raise ValueError(f'routing token {token} is claimed by decoder groups '
                                     f'{self.group_of_token[token_id]!r} and {group!r}')
                self.group_of_token[token_id] = group
                self.token_names[token_id] = token

    def num_queries(self, group: str) -> int:
        """N of a group."""
        return self.query_tables[group].num_embeddings

    def _routing_positions(self, input_ids: Tensor) -> List[tuple]:
        """(batch, position, group, token id) of every routing token (followed by its queries)."""
        found = []
        for token_id, group in self.group_of_token.items():
            for b, p in torch.nonzero(input_ids == token_id).tolist():
                found.append((b, p, group, token_id))
        found.sort()
        return found

    def _is_placeholder(self, input_ids: Tensor) -> Tensor:
        """[B, L] bool, True at every id that is some group's query placeholder."""
        ids = torch.cat([torch.tensor([self.query_token_id]), *self.placeholder_ids.values()])
        return torch.isin(input_ids, ids.unique().to(input_ids.device))

    def embed_queries(self, inputs_embeds: Tensor, input_ids: Tensor) -> Tensor:
        """Write the query table rows into the query placeholders.

        Args:
            inputs_embeds (Tensor): [B, L, C] token embeddings.
            input_ids (Tensor): [B, L] ids; every routing token is followed by its group's N
                placeholder ids.

        Returns:
            Tensor: [B, L, C] embeddings with the placeholders replaced (out of place, so the
            gradient reaches the tables).
        """
        batch_index, position_index, rows = [], [], []
        for b, p, group, _ in self._routing_positions(input_ids):
            n = self.num_queries(group)
            positions = torch.arange(p + 1, p + 1 + n, device=input_ids.device)
            expected = self.placeholder_ids[group].to(input_ids.device)
            if positions[-1] >= input_ids.shape[1] or \
                    not bool((input_ids[b, positions] == expected).all()):
                raise ValueError(
                    f'routing token at position {p} of sample {b} is not followed by its '
                    f'{n} query placeholders')
            batch_index.append(torch.full_like(positions, b))
            position_index.append(positions)
            rows.append(self.query_tables[group].weight)
        num_placeholders = int(self._is_placeholder(input_ids).sum())
        num_filled = sum(len(p) for p in position_index)
        if num_placeholders != num_filled:
            raise ValueError(
                f'{num_placeholders} query placeholders in the batch but only {num_filled} '
                'follow a routing token')
        if not rows:
            return inputs_embeds
        return inputs_embeds.index_put((torch.cat(batch_index), torch.cat(position_index)),
                                       torch.cat(rows).to(inputs_embeds.dtype))

    def extract(self, hidden_states: Tensor, input_ids: Tensor) -> Dict[str, LinkGroupEmbeddings]:
        """Gather the link embeddings of every group present in the batch.

        Args:
            hidden_states (Tensor): [B, L, C] last-layer LLM hidden states.
            input_ids (Tensor): [B, L] ids with placeholders.

        Returns:
            dict[str, LinkGroupEmbeddings]: Per group with at least one routing token.
        """
        per_sample_links: Dict[int, list] = {}
        for b, p, _, token_id in self._routing_positions(input_ids):
            per_sample_links.setdefault(b, []).append((p, token_id))
        per_group: Dict[str, Dict[int, list]] = {}
        for b, found in per_sample_links.items():
            tokens = [self.token_names[tid] for _, tid in found]
            groups = self.link_router(tokens) if self.link_router else \
                [self.group_of_token[tid] for _, tid in found]
            for group, link in zip(groups, found):
                per_group.setdefault(group, {}).setdefault(b, []).append(link)
        result = {}
        for group, per_sample in per_group.items():
            n = self.num_queries(group)
            sample_indices = sorted(per_sample)
            num_targets = max(len(v) for v in per_sample.values())
            index = torch.zeros(
                len(sample_indices), num_targets, n, dtype=torch.long, device=input_ids.device)
            mask = torch.zeros(
                len(sample_indices), num_targets, dtype=torch.bool, device=input_ids.device)
            offsets = torch.arange(1, n + 1, device=input_ids.device)
            for row, b in enumerate(sample_indices):
                for t, (p, _) in enumerate(per_sample[b]):
                    index[row, t] = p + offsets
                    mask[row, t] = True
            rows = hidden_states[sample_indices]  # [B', L, C]
            gathered = torch.gather(rows, 1,
                                    index.flatten(1)[..., None].expand(-1, -1, rows.shape[-1]))
            embeds = gathered.view(len(sample_indices), num_targets, n, rows.shape[-1])
            embeds = embeds * mask[..., None, None].to(embeds.dtype)
            link_tokens = [[self.token_names[tid] for _, tid in per_sample[b]]
                           for b in sample_indices]
            result[group] = LinkGroupEmbeddings(embeds, mask, sample_indices, link_tokens)
        return result
