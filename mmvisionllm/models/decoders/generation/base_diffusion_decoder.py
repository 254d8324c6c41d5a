"""Shared body of the image decoders: link embeddings → context → diffusion loss / seeded sampling.

Reused (see ``diffusion_builders``): ``diffusers.UNet2DConditionModel`` denoises, ``AutoencoderKL``
(optional) maps images to latents, ``DDPMScheduler.add_noise`` / ``get_velocity`` make the training
pairs and a ``DDIMScheduler`` / ``DPMSolverMultistepScheduler`` samples;
``transformers.CLIPTextModel`` (optional) gives the caption embedding of the paper's auxiliary
alignment loss. What is ours is the glue VisionLLM v2 describes: the link mapper in front of the
UNet's cross-attention, the learned null context that condition dropout swaps in (for
classifier-free guidance), and the loss/predict contract of :class:`BaseLinkDecoder`.
"""
import copy
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample, caption_of
from ..base_link_decoder import BaseLinkDecoder
from .diffusion_builders import build_hf_component, build_sample_scheduler, expand_unet_in_channels
from .diffusion_sampler import denoise_loop, sample_seed, seeded_noise
from .image_latent_codec import ImageLatentCodec

__all__ = ['BaseDiffusionDecoder']


def _refresh_null_context_hook(module: 'BaseDiffusionDecoder', incompatible_keys) -> None:
    """``load_state_dict`` post-hook: the text-encoder null context follows the loaded weights."""
    module.refresh_null_context()


class BaseDiffusionDecoder(BaseLinkDecoder):
    """Base of the ``[GEN]`` and ``[EDIT]`` decoders.

    Args:
        routing_tokens (Sequence[str]): Routing tokens handled (``('[GEN]',)`` / ``('[EDIT]',)``).
        num_queries (int): N link embeddings per routing token (64 in the paper).
        in_channels (int): Width C of the link embeddings (LLM hidden size).
        unet (dict): ``UNet2DConditionModel`` config, or ``pretrained``/``subfolder`` of a local
            folder (see :func:`build_hf_component`).
        noise_scheduler (dict): Training scheduler, e.g. ``dict(type='DDPMScheduler', ...)``; its
            ``prediction_type`` (``epsilon``, ``v_prediction`` or ``sample``) sets the loss target.
        link_mapper (dict): :class:`LinkMapper` config; ``in_channels`` and ``out_channels`` (the
            UNet's ``cross_attention_dim``) are filled in. ``num_queries`` = the context length.
        vae (dict, optional): ``AutoencoderKL`` config or local folder; None = pixel space.
        sample_scheduler (dict, optional): Sampling scheduler type + overrides of the training
            scheduler's config (default DDIM).
        text_encoder (dict, optional): ``CLIPTextModel`` (frozen) whose last hidden state of the
            caption is the target of the auxiliary loss; needs ``tokenizer``.
        tokenizer (dict, optional): ``CLIPTokenizer`` config or local folder.
        image_size (int | tuple[int, int]): Generation resolution. Defaults to 64.
        cond_drop_prob (float): Probability of dropping a condition in training (the decoders
            document how). Defaults to 0.1.
        loss_weight (float): Weight of the diffusion loss. Defaults to 1.0.
        text_align_weight (float): Weight of the MSE between the mapped context and the caption
            embedding (the paper uses 0.1). Only used with a text encoder.
        caption_key (str): Metainfo key of the caption for the auxiliary loss; without it the first
            human turn of the conversation is used.
        coord_channels (bool): Append two pixel-coordinate channels (x, y in [-1, 1]) to the UNet
            input (CoordConv). A tiny UNet otherwise only learns where things are from its zero
            padding, which makes memorising layouts slow; off for Stable Diffusion.
        freeze_unet (bool): Freeze the UNet (train only the mapper and null context).
        null_context (str): What classifier-free guidance uses as the missing condition:
            ``'learned'`` (default), a trained [Q, D] parameter (started at the text encoder's
            embedding of '' when a text encoder is configured); ``'text_encoder'``, the frozen
            text encoder's embedding of '' itself (the official VisionLLM v2 wrappers, as
            diffusers' pipelines use for an empty negative prompt), a non-persistent buffer
            recomputed at build and after every ``load_state_dict`` (needs ``text_encoder``).
        gradient_checkpointing (bool): Enable the UNet's gradient checkpointing (real SD training).
        test_cfg (dict, optional): Sampling options, merged over the class defaults
            (``num_inference_steps``, ``guidance_scale``, ``seed``...).
        init_cfg (dict, optional): MMEngine initialisation config (mapper only).
    """

    #: The UNet also sees the source image latent (InstructPix2Pix).
    uses_source_image = False
    #: The source latent is multiplied by the VAE scaling factor (see InstructEditDecoder).
    scale_source_latent = True
    default_test_cfg: Dict = dict(num_inference_steps=50, guidance_scale=7.5, seed=0)

    def __init__(self,
                 routing_tokens: Sequence[str],
                 num_queries: int,
                 in_channels: int,
                 unet: dict,
                 noise_scheduler: dict,
                 link_mapper: dict = dict(type='LinkMapper'),
                 vae: Optional[dict] = None,
                 sample_scheduler: Optional[dict] = None,
                 text_encoder: Optional[dict] = None,
                 tokenizer: Optional[dict] = None,
                 image_size: Union[int, Tuple[int, int]] = 64,
                 cond_drop_prob: float = 0.1,
                 loss_weight: float = 1.0,
                 text_align_weight: float = 0.1,
                 caption_key: str = 'caption',
                 coord_channels: bool = False,
                 freeze_unet: bool = False,
                 null_context: str = 'learned',
                 gradient_checkpointing: bool = False,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(routing_tokens, num_queries, in_channels, init_cfg=init_cfg)
        self.unet = build_hf_component(unet, 'unet')
        self.codec = ImageLatentCodec(build_hf_component(vae, 'vae'), image_size)
        self.noise_scheduler = build_hf_component(noise_scheduler, 'noise_scheduler')
        self.sample_scheduler_cfg = copy.deepcopy(sample_scheduler)
        build_sample_scheduler(self.sample_scheduler_cfg, self.noise_scheduler)  # fail early
        self.coord_channels = bool(coord_channels)
        self._check_unet_channels()
        if freeze_unet:
            self.unet.requires_grad_(False)
        if gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()

        mapper_cfg = dict(copy.deepcopy(link_mapper))
        mapper_cfg.setdefault('in_channels', self.in_channels)
        mapper_cfg.setdefault('out_channels', int(self.unet.config.cross_attention_dim))
        self.link_mapper = MODELS.build(mapper_cfg)
        context_shape = (self.link_mapper.num_queries, self.link_mapper.out_channels)
        if null_context not in ('learned', 'text_encoder'):
            raise ValueError(f"null_context must be 'learned' or 'text_encoder', got "
                             f'{null_context!r}')
        if null_context == 'text_encoder' and text_encoder is None:
            raise ValueError("null_context='text_encoder' needs a text_encoder (and tokenizer)")
        self.null_context_source = null_context
        if null_context == 'learned':
            self.null_context = nn.Parameter(torch.zeros(context_shape))
        else:
            self.register_buffer('null_context', torch.zeros(context_shape), persistent=False)
            self.register_load_state_dict_post_hook(_refresh_null_context_hook)

        self.text_encoder = build_hf_component(text_encoder, 'text_encoder')
        self.tokenizer = build_hf_component(tokenizer, 'tokenizer')
        if self.text_encoder is not None:
            self._setup_text_encoder()

        self.cond_drop_prob = float(cond_drop_prob)
        self.loss_weight = float(loss_weight)
        self.text_align_weight = float(text_align_weight)
        self.caption_key = caption_key
        self.test_cfg = {**self.default_test_cfg, **(test_cfg or {})}

    # ------------------------------------------------------------------ set-up
    def _check_unet_channels(self) -> None:
        """Check the UNet's input/output channels against the codec; a text-to-image UNet
        (``latent_channels`` inputs) is widened for the source latent / coordinate channels."""
        c = self.codec.latent_channels
        need = c * (2 if self.uses_source_image else 1) + (2 if self.coord_channels else 0)
        have = int(self.unet.config.in_channels)
        if have != need:
            if have != c:
                raise ValueError(
                    f'unet.in_channels={have}, but {type(self).__name__} needs {need} ({c} latent '
                    f'channels{" + the source latent" * self.uses_source_image}'
                    f'{" + 2 coordinate channels" * self.coord_channels})')
            expand_unet_in_channels(self.unet, need)
        if int(self.unet.config.out_channels) != c:
            raise ValueError(f'unet.out_channels={self.unet.config.out_channels}, expected {c}')

    @torch.no_grad()
    def _setup_text_encoder(self) -> None:
        """Freeze the text encoder, check its shape, start the null context at the '' embedding."""
        if self.tokenizer is None:
            raise ValueError('text_encoder is configured without a tokenizer')
        self.text_encoder.requires_grad_(False)
        self.text_encoder.eval()
        vocab = int(self.text_encoder.config.vocab_size)
        if len(self.tokenizer) > vocab:
            raise ValueError(f'the tokenizer has {len(self.tokenizer)} tokens, more than the text '
                             f'encoder vocabulary ({vocab}); raise text_encoder.vocab_size')
        width = int(self.text_encoder.config.hidden_size)
        queries = self.link_mapper.num_queries
        if width != self.link_mapper.out_channels:
            raise ValueError(f'text_encoder width {width} != context width '
                             f'{self.link_mapper.out_channels} (unet cross_attention_dim)')
        if queries > int(self.text_encoder.config.max_position_embeddings):
            raise ValueError(f'link_mapper.num_queries={queries} exceeds the text encoder length '
                             f'{self.text_encoder.config.max_position_embeddings}')
        self.refresh_null_context()

    @torch.no_grad()
    def refresh_null_context(self) -> None:
        """Set the null context to the text encoder's embedding of '' (the start value of a
        learned one; the value itself with ``null_context='text_encoder'``).

        Runs where the text encoder's weights are. A model built on the meta device and then
        given its weights by ``load_state_dict(..., assign=True)`` (the checkpoint converter) has
        its non-persistent null-context buffer still on meta: the buffer is replaced then.
        """
        device = next(self.text_encoder.parameters()).device
        null = self._caption_embeddings([''], device)[0].to(self.null_context.dtype)
        if self.null_context.is_meta and device.type != 'meta' and \
                'null_context' in self._buffers:
            self._buffers['null_context'] = null
        else:
            self.null_context.copy_(null.to(self.null_context.device))

    def init_weights(self) -> None:
        """Initialise only the mapper: the diffusers/transformers parts come initialised (random
        config init or ``from_pretrained``) and must not be re-initialised by MMEngine."""
        self.link_mapper.init_weights()
        self._is_init = True

    def train(self, mode: bool = True) -> 'BaseDiffusionDecoder':
        """Set the mode, keeping the frozen text encoder (and VAE, via the codec) in eval mode."""
        super().train(mode)
        if self.text_encoder is not None:
            self.text_encoder.eval()
        return self

    # ------------------------------------------------------- official weights
    def convert_official_state_dict(self, official: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Map the tensors of an official VisionLLM v2 SD / IP2P wrapper to this decoder's names.

        ``official`` holds the tensors of ``sd.*`` / ``ip2p.*`` with that prefix stripped. Its
        groups and where they go:

        * ``emb_proj.*``, ``llm2sd_mapper_queries``, ``llm2sd_mapper.*`` (the mapper) ->
          ``link_mapper.*``, renamed by the mapper's own ``convert_official_state_dict``
          (:class:`OfficialLinkMapper`; any other mapper raises);
        * ``sd_unet.*`` (diffusers ``UNet2DConditionModel``) -> ``unet.*``;
        * ``sd_vae.*`` (diffusers ``AutoencoderKL``) -> ``codec.vae.*``;
        * ``sd_text_encoder.*`` (transformers ``CLIPTextModel``) -> ``text_encoder.*``; the
          ``text_model.`` level of transformers 4.x names is dropped when our (transformers 5)
          text encoder has none.

        The wrapper's null condition is not a tensor (the text encoder's '' embedding), nor is
        the tokenizer or the pipeline. Diffusers and transformers keep the names of the inner
        modules, so a name is placed when it exists here with the same shape.

        Raises:
            KeyError: listing every official key without a place (unknown group, a component
                this decoder does not have, an unknown name or another shape).
        """
        mapper_keys = {
            k: v
            for k, v in official.items() if k.startswith(('emb_proj.', 'llm2sd_mapper'))
        }
        ours = self.state_dict()
        out: Dict[str, Tensor] = {}
        unplaced = []
        if mapper_keys:
            convert = getattr(self.link_mapper, 'convert_official_state_dict', None)
            if convert is None:
                unplaced += [
                    f'{k} (link_mapper {type(self.link_mapper).__name__} has no official '
                    'layout; use OfficialLinkMapper)' for k in mapper_keys
                ]
            else:
                out.update({f'link_mapper.{k}': v for k, v in convert(mapper_keys).items()})
        text_prefix = 'text_encoder.text_model.' if any(
            k.startswith('text_encoder.text_model.') for k in ours) else 'text_encoder.'
        groups = (('sd_unet.', 'unet.'), ('sd_vae.', 'codec.vae.'),
                  ('sd_text_encoder.text_model.', text_prefix), ('sd_text_encoder.',
                                                                 'text_encoder.'))
        for key, value in official.items():
            if key in mapper_keys:
                continue
            name = next((dst + key[len(src):] for src, dst in groups if key.startswith(src)), None)
            if name is None or name not in ours or tuple(ours[name].shape) != tuple(value.shape):
                have = None if name not in ours else tuple(ours[name].shape)
                unplaced.append(f'{key} {tuple(value.shape)} -> {name} {have}')
                continue
            out[name] = value
        if unplaced:
            raise KeyError(f'{type(self).__name__}: {len(unplaced)} official keys not placed: '
                           f'{unplaced}')
        return out

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _samples_with_targets(link_mask: Tensor) -> List[int]:
        """Indices of the samples with at least one routing token of this decoder."""
        return torch.nonzero(link_mask.any(dim=1)).flatten().tolist()

    def map_links(self, link_embeds: Tensor, link_mask: Tensor) -> Tensor:
        """Map link embeddings [B, T, N, C] (mask [B, T], ≥1 True per row) to context [B, Q, D].

        All targets of a sample are read together: the mapper's memory is their T·N embeddings, the
        absent targets masked out.
        """
        b, t, n, c = link_embeds.shape
        memory = link_embeds.reshape(b, t * n, c).to(self.null_context.dtype)
        padding = (~link_mask.bool()).unsqueeze(-1).expand(b, t, n).reshape(b, t * n)
        return self.link_mapper(memory, padding.to(memory.device))

    def _caption(self, data_sample: MMDataSample) -> str:
        """Text of the auxiliary loss: metainfo ``caption_key``, else the first human turn."""
        caption = caption_of(data_sample.metainfo, self.caption_key).strip()
        if caption:
            return caption
        raise ValueError(
            f'{type(self).__name__}: sample {data_sample.metainfo.get("img_path", "?")!r} has '
            f'neither metainfo {self.caption_key!r} nor a human turn, so the text-alignment loss '
            'has no caption')

    @torch.no_grad()
    def _caption_embeddings(self, captions: List[str], device: torch.device) -> Tensor:
        """CLIP text embeddings [B, Q, D] of the captions (padded/truncated to Q tokens)."""
        tokens = self.tokenizer(
            captions,
            padding='max_length',
            max_length=self.link_mapper.num_queries,
            truncation=True,
            return_tensors='pt')
        return self.text_encoder(tokens['input_ids'].to(device)).last_hidden_state.float()

    def _source_latents(self, images: Optional[Sequence[Optional[Tensor]]], keep: List[int],
                        device: torch.device) -> Optional[Tensor]:
        """Latents (posterior mode) of the source images of the kept samples, or None for gen."""
        if not self.uses_source_image:
            return None
        if images is None or any(images[i] is None for i in keep):
            raise ValueError(f'{type(self).__name__} needs the source image view of every sample')
        return self.codec.encode(
            self.codec.to_pixels([images[i] for i in keep], device),
            sample=False,
            scaled=self.scale_source_latent)

    def _unet(self,
              latents: Tensor,
              timesteps: Tensor,
              context: Tensor,
              source: Optional[Tensor] = None) -> Tensor:
        """UNet prediction [B, c, h, w]; the source latent (edit) and the coordinate channels are
        concatenated to the input."""
        parts = [latents] if source is None else [latents, source]
        if self.coord_channels:
            b, _, h, w = latents.shape
            ys = torch.linspace(-1.0, 1.0, h, device=latents.device, dtype=latents.dtype)
            xs = torch.linspace(-1.0, 1.0, w, device=latents.device, dtype=latents.dtype)
            grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
            parts.append(torch.stack([grid_x, grid_y]).expand(b, -1, -1, -1))
        return self.unet(torch.cat(parts, dim=1), timesteps, encoder_hidden_states=context).sample

    def _prediction_target(self, latents: Tensor, noise: Tensor, timesteps: Tensor) -> Tensor:
        """What the UNet regresses, after the training scheduler's ``prediction_type``."""
        kind = self.noise_scheduler.config.prediction_type
        if kind == 'epsilon':
            return noise
        if kind == 'v_prediction':
            return self.noise_scheduler.get_velocity(latents, noise, timesteps)
        if kind == 'sample':
            return latents
        raise ValueError(f'unsupported prediction_type {kind!r}')

    def _null_like(self, context: Tensor) -> Tensor:
        """The learned null context broadcast to [B, Q, D]."""
        return self.null_context.unsqueeze(0).expand(context.size(0), -1, -1)

    def _drop_conditions(self, context: Tensor,
                         source: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """Condition dropout for classifier-free guidance (overridden for editing)."""
        drop = torch.rand(context.size(0), device=context.device) < self.cond_drop_prob
        context = torch.where(drop[:, None, None], self._null_like(context), context)
        return context, source

    def _guided_output(self, latents: Tensor, t: Tensor, context: Tensor, source: Optional[Tensor],
                       cfg: dict) -> Tensor:
        """Guided UNet prediction at one sampling step (classifier-free guidance on the text)."""
        scale = float(cfg['guidance_scale'])
        if scale == 1.0:
            return self._unet(latents, t, context, source)
        both = self._unet(
            torch.cat([latents, latents]), t, torch.cat([self._null_like(context), context]),
            None if source is None else torch.cat([source, source]))
        uncond, cond = both.chunk(2)
        return uncond + scale * (cond - uncond)

    # ------------------------------------------------------------ the contract
    def loss(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
             data_samples: List[MMDataSample]) -> Dict[str, Tensor]:
        """Diffusion loss of the target images ``gt_image`` given the link embeddings.

        Args:
            link_embeds (Tensor): [B, T, N, C] link embeddings.
            link_mask (Tensor): [B, T] bool.
            images (list[Tensor] | None): uint8 [3, H, W] source images (editing) or None.
            data_samples (list[MMDataSample]): with ``gt_image`` uint8 [3, H, W].

        Returns:
            dict: ``loss_noise`` (MSE to the scheduler's target) and, with a text encoder,
            ``loss_text_align`` (weighted MSE of the mapped context to the caption embedding).
        """
        keep = self._samples_with_targets(link_mask)
        if not keep:  # keep every trainable parameter in the graph (DDP) with a zero loss
            zero = sum(p.sum() for p in self.link_mapper.parameters()) * 0.0
            return dict(loss_noise=zero + self.null_context.sum() * 0.0)
        device = self.null_context.device
        context = self.map_links(link_embeds[keep], link_mask[keep])
        targets = [data_samples[i].gt_image for i in keep]
        latents = self.codec.encode(self.codec.to_pixels(targets, device))
        source = self._source_latents(images, keep, device)

        noise = torch.randn_like(latents)
        timesteps = torch.randint(
            0,
            int(self.noise_scheduler.config.num_train_timesteps), (latents.size(0), ),
            device=device).long()
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        cond_context, cond_source = self._drop_conditions(context, source)
        pred = self._unet(noisy, timesteps, cond_context, cond_source)
        target = self._prediction_target(latents, noise, timesteps)
        losses = dict(loss_noise=F.mse_loss(pred.float(), target.float()) * self.loss_weight)
        if self.text_encoder is not None and self.text_align_weight > 0:
            captions = [self._caption(data_samples[i]) for i in keep]
            caption_embeds = self._caption_embeddings(captions, device)
            losses['loss_text_align'] = F.mse_loss(context, caption_embeds) * self.text_align_weight
        return losses

    @torch.no_grad()
    def predict(self, link_embeds: Tensor, link_mask: Tensor, images: Optional[List[Tensor]],
                data_samples: List[MMDataSample]) -> List[MMDataSample]:
        """Sample one image per sample with targets; store it as ``pred_image`` (uint8 [3, H, W]).

        The start noise of a sample is drawn from its own seed, ``test_cfg['seed']`` plus the
        sample's ``img_id`` (see :func:`sample_seed`): a sample's image does not depend on its
        batch and is the same in every run, while different samples start from different noise, as
        a set of images scored as a distribution (FID-style) needs. Generated images have the
        decoder's ``image_size``; edited images are resized back to their source's size. Samples
        without a routing token of this decoder are returned unchanged.
        """
        keep = self._samples_with_targets(link_mask)
        if not keep:
            return data_samples
        cfg = self.test_cfg
        device = self.null_context.device
        context = self.map_links(link_embeds[keep], link_mask[keep])
        source = self._source_latents(images, keep, device)
        h, w = self.codec.latent_size
        shape = (len(keep), self.codec.latent_channels, h, w)
        seeds = [sample_seed(int(cfg['seed']), data_samples[i]) for i in keep]
        latents = seeded_noise(shape, seeds, device)
        scheduler = build_sample_scheduler(self.sample_scheduler_cfg, self.noise_scheduler)
        model_fn = partial(self._guided_output, context=context, source=source, cfg=cfg)
        latents = denoise_loop(scheduler, model_fn, latents, int(cfg['num_inference_steps']))
        outputs = self._output_images(
            self.codec.decode(latents), source,
            None if images is None else [images[i] for i in keep])
        for i, image in zip(keep, outputs):
            data_samples[i].pred_image = image
        return data_samples

    def _output_images(self, pixels: Tensor, source: Optional[Tensor],
                       source_images: Optional[List[Tensor]]) -> List[Tensor]:
        """uint8 [3, H_i, W_i] images of the decoded samples [B, 3, H, W] in [-1, 1]: generated
        images keep ``image_size``, edited ones take their source image's size."""
        sizes = None
        if self.uses_source_image:
            sizes = [tuple(image.shape[-2:]) for image in source_images]
        return self.codec.to_uint8(pixels, sizes)
