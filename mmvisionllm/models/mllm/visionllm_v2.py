"""VisionLLMv2: CLIP -> MLP projector -> causal LLM (+ region tokens) -> super link -> decoders.

Reuses mmengine's ``BaseModel`` (train/val/test steps, loss parsing), HF models through
:class:`CLIPVisionEncoder` and :class:`HFCausalLM` (HF computes the shifted LM cross-entropy), and
the decoder plugin contract of :class:`BaseLinkDecoder`. The core builds decoders only from the
config (``decoders=dict(<group>=dict(type=...))``) and never imports one by name.

Decoder calls: for every decoder group present in a batch, ``decoder.loss``/``decoder.predict`` gets
only the samples that hold at least one of its routing tokens (``link_embeds`` [B', T, N, C],
``link_mask`` [B', T], their decoder views and data samples, whose metainfo ``link_tokens`` is set).

Config fields worth knowing:
    frozen_components: components to freeze (``vision_encoder``, ``projector``, ``llm``,
        ``region_encoder``, ``super_link``, ``decoders`` or ``decoders.<group>``).
    predict_mode: ``'teacher_forced'`` (the paper's protocol: the given answer with its routing
        tokens is fed and the decoders read its links; answers without routing tokens are generated)
        or ``'chat'`` (the answer is generated; routing tokens the LLM emits call the decoders
        live).
    Parameter names for ``paramwise_cfg.custom_keys``: ``vision_encoder.``, ``projector.``, ``llm.``
        (``lora_`` for LoRA matrices, ``trainable_tokens`` for the new token rows under LoRA),
        ``region_encoder.``, ``super_link.query_tables.<group>``, ``decoders.<group>.``.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmdet.utils import reduce_mean
from mmengine.logging import print_log
from mmengine.model import BaseModel, ModuleDict
from torch import Tensor

from mmvisionllm.datasets.task_definitions import CORE_ROUTING_TOKENS
from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample
from mmvisionllm.utils.dist_compat import check_same_on_all_ranks, is_multi_process
from ..decoders.base_link_decoder import BaseLinkDecoder
from ..language_models.conversation_tokenizer import ConversationTokenizer
from ..super_link.routing_table import RoutingTable
from ..super_link.super_link import SuperLink
from .component_freezing import freeze_components
from .link_generation import EmittedLink, LinkAwareGreedyGenerator
from .vocabulary_extension import (VOCABULARY_KEY, VocabularyExtender, decode_vocabulary,
                                   encode_vocabulary)

__all__ = ['VisionLLMv2']

#: The core's routing tokens (the paper's six), declared with the core's tasks.
PAPER_ROUTING_TOKENS = CORE_ROUTING_TOKENS


@MODELS.register_module()
class VisionLLMv2(BaseModel):
    """The VisionLLM v2 generalist.

    Args:
        vision_encoder (dict): Config of the vision tower (e.g. ``CLIPVisionEncoder``).
        llm (dict): Config of the LLM (``HFCausalLM``).
        projector (dict): Config of the vision-to-LLM projector; ``in_channels``/``out_channels``
            are filled in.
        region_encoder (dict, optional): Config of the region encoder; widths/grid are filled in.
            None: ``<region>`` prompts are rejected.
        decoders (dict, optional): Decoder group -> config of a ``BaseLinkDecoder``;
            ``in_channels`` is filled in with the LLM width (and checked when given).
        template (dict): Config of the ``ConversationTemplate``.
        routing_vocabulary (Sequence[str]): Routing tokens always added to the vocabulary (so the
            vocabulary does not depend on which decoders a stage configures). One of them emitted or
            fed without a decoder is an error. A decoder's routing token outside it (a plugin's)
            is appended after every other special token, so no existing id moves; a checkpoint
            saved without it loads row by row (:mod:`.vocabulary_extension`).
        image_free_groups (Sequence[str]): Decoder groups that run without an input image.
        query_tables (dict, optional): Query tables of groups without a decoder: group ->
            ``dict(routing_tokens=..., num_queries=N)``. Their routing tokens get placeholders and
            query rows like a decoder's (the LLM side of a checkpoint loads whole, e.g. the
            official release's four tables when not every decoder is configured); a link of such
            a group reaching the decoder stage is an error. A group that has a decoder must agree
            with it.
        special_tokens (Sequence[str], optional): Explicit order of the special tokens added to the
            tokenizer (the official release's 26 tokens, ids 32000-32025); the model's other
            tokens follow it. None: the default order (:class:`RoutingTable`).
        image_patch_token (str): The token repeated once per vision token in place of the
            ``<image>`` marker (the official release: ``'<im_patch>'``).
        query_placeholders (dict, optional): Group -> its N placeholder tokens (the official
            release: ``[EMB] [EMB2] [EMB3] [EMB4]`` for perception, 64 x ``[EMB]`` for generation).
            Groups left out take N x ``[EMB]``.
        share_query_tables (bool): One query table for every decoder group instead of one per
            group (:class:`SuperLink`'s ``shared_table``; the paper's argument for per-task queries
            is measured with it). Defaults to False.
        frozen_components (Sequence[str]): Components whose parameters are frozen.
        predict_mode (str): ``'teacher_forced'`` or ``'chat'``.
        max_new_tokens (int): Longest generated answer.
        data_preprocessor (dict): Config of ``VisionLLMv2DataPreprocessor``.
        init_cfg (dict, optional): MMEngine initialisation config.
    """

    def __init__(self,
                 vision_encoder: dict,
                 llm: dict,
                 projector: dict = dict(type='MLPProjector'),
                 region_encoder: Optional[dict] = dict(type='MaskPointRegionEncoder'),
                 decoders: Optional[dict] = None,
                 template: dict = dict(type='ConversationTemplate'),
                 routing_vocabulary: Sequence[str] = PAPER_ROUTING_TOKENS,
                 image_free_groups: Sequence[str] = ('gen', ),
                 query_tables: Optional[dict] = None,
                 special_tokens: Optional[Sequence[str]] = None,
                 image_patch_token: str = '<image>',
                 query_placeholders: Optional[dict] = None,
                 share_query_tables: bool = False,
                 frozen_components: Sequence[str] = ('vision_encoder', ),
                 predict_mode: str = 'teacher_forced',
                 max_new_tokens: int = 64,
                 data_preprocessor: dict = dict(type='VisionLLMv2DataPreprocessor'),
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):  # build in our registry whatever the default scope
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if predict_mode not in ('teacher_forced', 'chat'):
            raise ValueError(
                f"predict_mode must be 'teacher_forced' or 'chat', got {predict_mode!r}")
        self.predict_mode = predict_mode
        self.max_new_tokens = max_new_tokens
        self.vision_encoder = MODELS.build(vision_encoder)
        self.llm = MODELS.build(llm)
        hidden_size = self.llm.hidden_size
        # mmengine's ModuleDict: init_weights() only recurses into children that have it
        self.decoders = ModuleDict({
            group: self._build_decoder(group, cfg, hidden_size)
            for group, cfg in (decoders or {}).items()
        })
        self.template = MODELS.build(template)

        # the one owner of token -> group -> query count -> image-free
        self.routing = RoutingTable(
            self._link_groups(query_tables),
            routing_vocabulary=routing_vocabulary,
            image_free_groups=image_free_groups,
            role_tokens=self.template.role_tokens,
            placeholder_tokens=tuple(
                dict.fromkeys(('<image>', image_patch_token, '<region>', '[EMB]'))),
            vocabulary_order=special_tokens,
            query_placeholders=query_placeholders)
        token_ids = self.llm.add_special_tokens(self.routing.vocabulary_tokens())
        self.llm.apply_lora()
        self.super_link = SuperLink(
            groups=self.routing.super_link_groups(),
            token_ids=token_ids,
            hidden_size=hidden_size,
            link_router=self.routing.link_groups,
            shared_table=share_query_tables)
        self.projector = MODELS.build(
            projector,
            default_args=dict(
                in_channels=self.vision_encoder.hidden_size, out_channels=hidden_size))
        self.region_encoder = None if region_encoder is None else MODELS.build(
            region_encoder,
            default_args=dict(
                out_channels=hidden_size,
                vision_channels=self.vision_encoder.hidden_size,
                grid_size=self.vision_encoder.grid_size,
                num_vision_layers=self.vision_encoder.num_region_layers))
        self.conversation_tokenizer = ConversationTokenizer(
            tokenizer=self.llm.tokenizer,
            template=self.template,
            tokens_per_tile=self.vision_encoder.tokens_per_tile,
            query_counts=self.routing.query_counts(),
            routing_vocabulary=self.routing.routing_tokens,
            image_free_routing_tokens=self.routing.image_free_tokens(),
            image_patch_token=image_patch_token,
            query_placeholders=self.routing.query_placeholders())
        self.data_preprocessor.bind(self.conversation_tokenizer)
        statistics = getattr(self.vision_encoder, 'image_statistics', None)
        if statistics is not None:  # the CLIP folder's image processor mean/std
            self.data_preprocessor.set_image_statistics(*statistics)
        self.image_token_id = token_ids[image_patch_token]
        self.region_token_id = token_ids['<region>']
        freeze_components(self, frozen_components)
        # the vocabulary travels with the weights, so a checkpoint extends by token string
        self._vocabulary_extender = VocabularyExtender(self.llm)
        self.register_buffer(
            VOCABULARY_KEY,
            encode_vocabulary(self._vocabulary_extender.vocabulary()),
            persistent=True)
        self._register_load_state_dict_pre_hook(self._extend_checkpoint)

    def _extend_checkpoint(self, state_dict: dict, prefix: str, *args) -> None:
        """Map a checkpoint's token rows to this model's ids by token string and log what the
        checkpoint lacked (tokens, query tables, decoders); see :mod:`.vocabulary_extension`."""
        key = prefix + VOCABULARY_KEY
        saved = decode_vocabulary(state_dict[key]) if key in state_dict else None
        report = self._vocabulary_extender.extend(state_dict, prefix, saved)
        state_dict[key] = getattr(self, VOCABULARY_KEY).clone()
        if not any(k.startswith(prefix + 'llm.') for k in state_dict):
            return  # not a checkpoint of this model's language side (e.g. a vision tower)
        lines = []
        if report['new_tokens']:
            ids = [self.llm.tokenizer.convert_tokens_to_ids(t) for t in report['new_tokens']]
            lines.append(f'new tokens {report["new_tokens"]} (ids {ids}), rows mean-initialised')
        if report['moved']:
            lines.append(f'tokens with a new id, rows moved: {report["moved"]}')
        if report['dropped_tokens']:
            lines.append(f'checkpoint tokens this model lacks, rows dropped: '
                         f'{report["dropped_tokens"]}')
        tables = [
            g for g in self.super_link.query_tables
            if f'{prefix}super_link.query_tables.{g}.weight' not in state_dict
        ]
        if tables:
            lines.append(f'new query tables {tables} (initialised)')
        decoders = [
            g for g in self.decoders
            if not any(k.startswith(f'{prefix}decoders.{g}.') for k in state_dict)
        ]
        if decoders:
            lines.append(f'decoders without weights in the checkpoint {decoders} (initialised)')
        if lines:
            print_log('extending the checkpoint: ' + '; '.join(lines), logger='current')

    def _link_groups(self, query_tables: Optional[dict]) -> Dict[str, tuple]:
        """Group -> (routing tokens, N) of the decoders and of the decoder-less query tables."""
        groups = {
            g: (tuple(d.routing_tokens), d.num_queries, d.context_tokens)
            for g, d in self.decoders.items()
        }
        for group, spec in (query_tables or {}).items():
            tokens, n = tuple(spec['routing_tokens']), int(spec['num_queries'])
            if group in groups and groups[group][:2] != (tokens, n):
                raise ValueError(
                    f'query_tables.{group} = {(tokens, n)} disagrees with decoders.{group} '
                    f'(routing tokens, num_queries) = {groups[group][:2]}')
            groups.setdefault(group, (tokens, n))
        return groups

    def _decoder(self, group: str) -> BaseLinkDecoder:
        """The decoder of a group; a clear error for a query table without one."""
        if group not in self.decoders:
            raise ValueError(
                f'routing tokens {self.routing.tokens_of(group)} of group {group!r} have a query '
                f'table but no decoder (model.query_tables); configure model.decoders.{group} '
                'to decode them')
        return self.decoders[group]

    @staticmethod
    def _build_decoder(group: str, cfg: dict, hidden_size: int) -> BaseLinkDecoder:
        if '.' in group:
            raise ValueError(f'decoder group names cannot contain ".": {group!r}')
        given = cfg.get('in_channels')
        if given is not None and given != hidden_size:
            raise ValueError(
                f'decoders.{group}.in_channels={given} but the LLM width is {hidden_size}; '
                'leave it out and the model fills it in')
        decoder = MODELS.build(cfg, default_args=dict(in_channels=hidden_size))
        if not isinstance(decoder, BaseLinkDecoder):
            raise TypeError(f'decoders.{group} ({type(decoder).__name__}) is not a BaseLinkDecoder')
        return decoder

    @property
    def tokenizer(self):
        """The HF tokenizer (with the special tokens added)."""
        return self.llm.tokenizer

    # ------------------------------------------------------------------ inputs
    def encode_images(self, clip_pixels: Sequence[Optional[Tensor]],
                      data_samples: Sequence[MMDataSample]) -> tuple:
        """Vision and region tokens of each sample.

        Args:
            clip_pixels (Sequence[Tensor | None]): Per sample [T_i, 3, S, S] normalised tiles.
            data_samples (Sequence[MMDataSample]): Their metainfo ``regions`` holds the mask
                prompts.

        Returns:
            tuple[list, list]: Per sample the image tokens [T_i * L, C] (or None) and the region
            tokens [R_i, C] (or None).
        """
        image_tokens: List[Optional[Tensor]] = [None] * len(clip_pixels)
        region_tokens: List[Optional[Tensor]] = [None] * len(clip_pixels)
        present = [i for i, tiles in enumerate(clip_pixels) if tiles is not None]
        if present:
            features = self.vision_encoder(torch.cat([clip_pixels[i] for i in present]))
            projected = self.projector(features.patch_tokens)  # [ΣT, L, C]
            start = 0
            for i in present:
                num_tiles = clip_pixels[i].shape[0]
                image_tokens[i] = projected[start:start + num_tiles].flatten(0, 1)
                regions = data_samples[i].metainfo.get('regions') or []
                if len(regions) > 0:
                    thumbnail = start + num_tiles - 1
                    region_tokens[i] = self._encode_regions(clip_pixels[i][-1],
                                                            features.region_layers[thumbnail],
                                                            regions, data_samples[i])
                start += num_tiles
        for i, sample in enumerate(data_samples):
            if clip_pixels[i] is None and len(sample.metainfo.get('regions') or []) > 0:
                raise ValueError(f'sample {i} has region prompts but no image')
        return image_tokens, region_tokens

    def _encode_regions(self, thumbnail: Tensor, vision_layers: Tensor, regions: Sequence,
                        data_sample: MMDataSample) -> Tensor:
        if self.region_encoder is None:
            raise ValueError('the sample has <region> prompts but the model has no region_encoder')
        masks = []
        for region in regions:
            region = torch.as_tensor(region, device=thumbnail.device)
            if region.ndim == 1:  # a box prompt xyxy in original-image pixels -> its mask
                height, width = data_sample.metainfo['ori_shape'][:2]
                x1, y1, x2, y2 = region.round().long().tolist()
                region = torch.zeros(height, width, dtype=torch.bool, device=thumbnail.device)
                region[max(y1, 0):max(y2, y1 + 1), max(x1, 0):max(x2, x1 + 1)] = True
            masks.append(region.bool())
        return self.region_encoder(thumbnail, vision_layers, masks)

    @staticmethod
    def _fill(embeds: Tensor, input_ids: Tensor, token_id: int, rows: Optional[Tensor],
              what: str) -> Tensor:
        """Write ``rows`` [n, C] into the n positions of ``token_id`` (row-major order)."""
        positions = torch.nonzero(input_ids == token_id, as_tuple=True)
        expected = 0 if rows is None else rows.shape[0]
        if positions[0].numel() != expected:
            raise ValueError(
                f'{positions[0].numel()} {what} placeholders in the tokens but {expected} '
                f'{what} embeddings')
        if expected == 0:
            return embeds
        return embeds.index_put(positions, rows.to(embeds.dtype))

    def embed_inputs(self, input_ids: Tensor, image_tokens: Optional[Tensor],
                     region_tokens: Optional[Tensor]) -> Tensor:
        """Input embeddings with image, region and query rows written in.

        Args:
            input_ids (Tensor): [B, L] ids.
            image_tokens (Tensor, optional): [n_img, C] rows for the ``<image>`` positions,
                row-major.
            region_tokens (Tensor, optional): [n_reg, C] rows for the ``<region>`` positions.

        Returns:
            Tensor: [B, L, C] input embeddings.
        """
        embeds = self.llm.embed(input_ids)
        embeds = self._fill(embeds, input_ids, self.image_token_id, image_tokens, 'image')
        embeds = self._fill(embeds, input_ids, self.region_token_id, region_tokens, 'region')
        return self.super_link.embed_queries(embeds, input_ids)

    def _batch_embeds(self, inputs: dict, data_samples: Sequence[MMDataSample]) -> Tensor:
        image_tokens, region_tokens = self.encode_images(inputs['clip_pixels'], data_samples)
        images = [t for t in image_tokens if t is not None]
        regions = [t for t in region_tokens if t is not None]
        return self.embed_inputs(inputs['input_ids'],
                                 torch.cat(images) if images else None,
                                 torch.cat(regions) if regions else None)

    def _run_llm(self, inputs: dict, data_samples: Sequence[MMDataSample], with_labels: bool):
        return self.llm(
            inputs_embeds=self._batch_embeds(inputs, data_samples),
            attention_mask=inputs['attention_mask'],
            labels=inputs['labels'] if with_labels else None,
            output_hidden_states=True,
            use_cache=False)

    # ------------------------------------------------------------------ decoders
    def _decoder_inputs(self, group: str, embeds: Tensor, sample_indices: Sequence[int],
                        link_tokens: Sequence[Sequence[str]], inputs: dict,
                        data_samples: Sequence[MMDataSample]) -> tuple:
        samples = [data_samples[i] for i in sample_indices]
        for sample, tokens in zip(samples, link_tokens):
            self._check_link_targets(sample, tokens)
            sample.set_metainfo(dict(link_tokens=list(tokens)))
        images = [inputs['images'][i] for i in sample_indices]
        decoder = self._decoder(group)
        parameter = next(decoder.parameters(), None)
        if parameter is not None and parameter.is_floating_point():
            embeds = embeds.to(parameter.dtype)
        return decoder, embeds, (None if all(im is None for im in images) else images), samples

    @staticmethod
    def _check_link_targets(sample: MMDataSample, tokens: Sequence[str]) -> None:
        """The i-th routing token of a sample links to its i-th target name: refuse a
        conversation whose routing tokens do not pair one to one with ``target_names`` (a
        missing or extra token shifted every later link onto another target's ground truth; a
        routing token in a sample without targets, e.g. ``[DET]`` in a region answer, reached the
        decoder without any ground truth)."""
        names = sample.metainfo.get('target_names')
        if names is None or len(names) == len(tokens):
            return
        meta = sample.metainfo
        where = (f'sample img_id={meta.get("img_id")} (task {meta.get("task")!r}, '
                 f'{meta.get("img_path")})')
        raise ValueError(f'{where}: its conversation has {len(tokens)} routing token(s) '
                         f'{list(tokens)} but {len(names)} target name(s) {list(names)}; each '
                         'target needs exactly one routing token, in order')

    # ------------------------------------------------------------------ modes
    def forward(self,
                inputs: dict,
                data_samples: Optional[List[MMDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[MMDataSample], Tensor]:
        """Run the model in mmengine's modes.

        Args:
            inputs (dict): The data preprocessor's ``inputs``.
            data_samples (list[MMDataSample]): The batch's samples.
            mode (str): ``'loss'`` -> dict of losses, ``'predict'`` -> filled data samples,
                ``'tensor'`` -> [B, L, V] LM logits.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._run_llm(inputs, data_samples, with_labels=False).logits
        raise ValueError(f'invalid mode {mode!r}')

    def loss(self, inputs: dict, data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """LM cross-entropy plus every called decoder's losses.

        Returns:
            dict[str, Tensor]: ``loss_lm`` and ``loss_<group>_<name>`` (other decoder outputs are
            logged as ``<group>_<name>``).
        """
        outputs = self._run_llm(inputs, data_samples, with_labels=True)
        has_targets = bool((inputs['labels'] != -100).any())
        losses = dict(loss_lm=outputs.loss if has_targets else outputs.logits.sum() * 0)
        links = self.super_link.extract(outputs.hidden_states[-1], inputs['input_ids'])
        if is_multi_process():
            losses['loss_lm'] = self._rank_normalised_lm_loss(losses['loss_lm'], inputs['labels'])
            check_same_on_all_ranks([int(group in links) for group in self.decoders],
                                    f'which decoder groups ({list(self.decoders)}) this step calls')
        for group, link in links.items():
            decoder, embeds, images, samples = self._decoder_inputs(group, link.embeds,
                                                                    link.sample_indices,
                                                                    link.link_tokens, inputs,
                                                                    data_samples)
            for name, value in decoder.loss(embeds, link.mask, images, samples).items():
                key = f'loss_{group}_{name[len("loss_"):]}' if name.startswith('loss_') \
                    else f'{group}_{name}'
                losses[key] = value
        return losses

    @staticmethod
    def _rank_normalised_lm_loss(loss_lm: Tensor, labels: Tensor) -> Tensor:
        """The LM loss of this rank over the mean number of target tokens per rank.

        HF's loss is the mean over this rank's target tokens; DDP averages the gradients of the
        ranks, which would weight a token of a rank with few targets more than one of a rank with
        many. Rescaled by ``n_rank / mean_r(n_r)`` (a ``reduce_mean`` on every rank, also on one
        without targets, whose loss is ``logits.sum() * 0``), the averaged gradient is that of
        the mean over all target tokens of the global batch, i.e. of one process trained on it.
        Called only with several ranks; one process keeps HF's mean unchanged.

        Args:
            loss_lm (Tensor): [] this rank's mean token cross-entropy (or a zero).
            labels (Tensor): [B, L] the LM labels (-100 where ignored); HF shifts them by one.

        Returns:
            Tensor: [] the rescaled loss.
        """
        num_targets = (labels[:, 1:] != -100).sum().float()  # fp32: bf16 rounds counts > 256
        mean_targets = reduce_mean(num_targets.clone()).clamp(min=1)
        return loss_lm * (num_targets / mean_targets).to(loss_lm.dtype)

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Fill ``data_samples`` with predictions (``pred_text`` metainfo, decoder outputs).

        In ``teacher_forced`` mode, samples whose conversation holds routing tokens are fed whole
        and the decoders read their links; the others get a generated answer. In ``chat`` mode every
        sample's last answer is generated and the routing tokens it emits call the decoders.
        """
        input_ids = inputs['input_ids']
        is_routed = torch.zeros(len(data_samples), dtype=torch.bool, device=input_ids.device)
        for token_id in self.super_link.group_of_token:
            is_routed |= (input_ids == token_id).any(dim=1)
        to_generate = list(range(len(data_samples)))
        if self.predict_mode == 'teacher_forced' and bool(is_routed.any()):
            outputs = self._run_llm(inputs, data_samples, with_labels=False)
            links = self.super_link.extract(outputs.hidden_states[-1], input_ids)
            for group, link in links.items():
                decoder, embeds, images, samples = self._decoder_inputs(
                    group, link.embeds, link.sample_indices, link.link_tokens, inputs, data_samples)
                decoder.predict(embeds, link.mask, images, samples)
            to_generate = [i for i in to_generate if not bool(is_routed[i])]
        if not to_generate:
            return data_samples
        image_tokens, region_tokens = self.encode_images(
            [inputs['clip_pixels'][i] for i in to_generate], [data_samples[i] for i in to_generate])
        for k, i in enumerate(to_generate):
            sample = data_samples[i]
            turns = self.conversation_tokenizer.encode_turns(
                sample.metainfo["conversation"],
                self._num_tiles(inputs['clip_pixels'][i]),
                drop_last_answer=True)
            reply = self.generate_turns(turns, image_tokens[k], region_tokens[k])[-1]
            sample.set_metainfo(dict(pred_text=reply.text))
            if reply.links:
                self.decode_links(reply.links, sample, inputs['images'][i])
        return data_samples

    @staticmethod
    def _num_tiles(tiles: Optional[Tensor]) -> int:
        return 0 if tiles is None else tiles.shape[0]

    def generate_turns(self, turns, image_tokens: Optional[Tensor],
                       region_tokens: Optional[Tensor]) -> list:
        """Generate every missing answer of an encoded conversation (see
        :class:`LinkAwareGreedyGenerator`); returns the generated turns."""
        generator = LinkAwareGreedyGenerator(
            self.llm,
            self.conversation_tokenizer,
            self.super_link.group_of_token,
            embed_chunk=self.embed_inputs,
            max_new_tokens=self.max_new_tokens,
            suppress_token_ids=(self.region_token_id, ),
            link_router=self.routing.link_groups)
        return generator.generate(
            turns,
            image_tokens,
            region_tokens,
            has_image=image_tokens is not None,
            device=next(self.llm.parameters()).device)

    def decode_links(self,
                     links: Sequence[EmittedLink],
                     data_sample: MMDataSample,
                     image: Optional[Tensor],
                     copy_per_group: bool = False) -> Dict[str, MMDataSample]:
        """Call the decoders on links emitted in free-running generation.

        The links of one group (``EmittedLink.group``: a context token's link may go to the decoder
        reading it) form that group's targets (T = their number) and the group's decoder
        predicts once for all of them, on ``data_sample`` whose metainfo ``link_tokens`` and
        ``target_names`` are set to the emitted tokens and names (``target_label_ids`` is re-mapped
        by name when the sample had one).

        Args:
            links (Sequence[EmittedLink]): In emission order.
            data_sample (MMDataSample): The sample (filled in place).
            image (Tensor, optional): uint8 [3, H, W] decoder view.
            copy_per_group (bool): Fill a copy of ``data_sample`` per group instead (keeps the
                outputs of several groups apart).

        Returns:
            dict[str, MMDataSample]: Group -> the filled sample; when the decoder cannot read the
            emitted targets (``emitted_targets_error``), the sample carries the reason in metainfo
            ``decoder_error`` and no prediction.
        """
        by_group: Dict[str, List[EmittedLink]] = {}
        for link in links:
            by_group.setdefault(link.group, []).append(link)
        # names are compared without spaces: a tokenizer may split 'left_shoulder' into 3 tokens
        known = {
            ''.join(name.split()): label
            for name, label in zip(
                data_sample.metainfo.get('target_names') or [],
                data_sample.metainfo.get('target_label_ids') or [])
        }
        results = {}
        for group, group_links in by_group.items():
            sample = data_sample.clone() if copy_per_group else data_sample
            names = [link.target_name for link in group_links]
            meta = dict(
                link_tokens=[link.routing_token for link in group_links], target_names=names)
            if known:
                meta['target_label_ids'] = [known.get(''.join(n.split()), -1) for n in names]
            sample.set_metainfo(meta)
            error = self._decoder(group).emitted_targets_error(meta['link_tokens'])
            if error is not None:
                sample.set_metainfo(dict(decoder_error=error))
                results[group] = sample
                continue
            embeds = torch.stack([link.embeds for link in group_links])[None]  # [1, T, N, C]
            mask = torch.ones(embeds.shape[:2], dtype=torch.bool, device=embeds.device)
            decoder, embeds, images, samples = self._decoder_inputs(group, embeds, [0],
                                                                    [meta['link_tokens']],
                                                                    dict(images=[image]), [sample])
            results[group] = decoder.predict(embeds, mask, images, samples)[0]
        return results
