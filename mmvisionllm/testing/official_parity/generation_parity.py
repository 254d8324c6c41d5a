"""Parity of the official-compatible ``[GEN]`` / ``[EDIT]`` decoders with the official reference.

The reduced reference's ``sd.*`` / ``ip2p.*`` tensors are converted by
:meth:`BaseDiffusionDecoder.convert_official_state_dict` and loaded strictly into
:class:`OfficialTextToImageDecoder` / :class:`OfficialInstructEditDecoder` built with the tiny
UNet / VAE / text-encoder configs of the reference (``config.json`` -> ``reference_info`` ->
``sd_components``). The 77-token conditioning is compared for case E (fixed link states) and for
case A (the official LLM's final hidden states at the 64 ``[EMB]`` after ``[GEN]`` / ``[EDIT]``).
"""
import os.path as osp
from typing import List, Tuple

import torch

from mmvisionllm.models.decoders.generation import (OfficialInstructEditDecoder,
                                                    OfficialTextToImageDecoder)
from .reference import load_official_prefix, load_reference_config, max_abs_diff, reference_array

__all__ = ['generation_parity', 'build_reference_generation_decoder']

#: official wrapper prefix -> (our decoder class, config key of the wrapper, case E input name)
_WRAPPERS = dict(
    gen=('sd.', OfficialTextToImageDecoder, 'sd_config', 'sd'),
    edit=('ip2p.', OfficialInstructEditDecoder, 'ip2p_config', 'ip2p'))


def _public(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if not k.startswith('_') and k != 'architectures'}


def build_reference_generation_decoder(reference_dir: str, group: str):
    """Our official-compatible decoder for ``group`` ('gen' | 'edit') of the reduced reference,
    with its converted weights loaded strictly; eval mode.

    Returns:
        tuple: (decoder, wrapper config dict, number of official tensors converted).
    """
    prefix, cls, config_key, _ = _WRAPPERS[group]
    config = load_reference_config(reference_dir)
    wrapper = config[config_key]
    components = config['reference_info']['sd_components'][config_key]
    tokenizer_dir = osp.join(
        osp.dirname(osp.abspath(reference_dir)), wrapper['sd_model_id'], 'tokenizer')
    kwargs = {}
    if osp.isdir(tokenizer_dir):
        kwargs['tokenizer'] = dict(type='CLIPTokenizer', pretrained=tokenizer_dir)
    else:  # the null context needs a tokenizer; it has no reference output
        kwargs['null_context'] = 'learned'
    decoder = cls(
        num_queries=int(wrapper['num_embed_tokens']),
        in_channels=int(wrapper['llm_hidden_size']),
        unet=dict(type='UNet2DConditionModel', **_public(components['unet'])),
        vae=dict(type='AutoencoderKL', **_public(components['vae'])),
        text_encoder=dict(type='CLIPTextModel', **_public(components['text_encoder'])),
        noise_scheduler=dict(type='DDPMScheduler'),
        image_size=int(components['vae']['sample_size']),
        link_mapper=dict(
            type='OfficialLinkMapper',
            num_queries=int(wrapper['num_queries']),
            num_encoder_layers=int(wrapper['num_encoder_layers']),
            num_decoder_layers=int(wrapper['num_decoder_layers'])),
        **kwargs)
    official = load_official_prefix(reference_dir, prefix)
    decoder.load_state_dict(decoder.convert_official_state_dict(official), strict=True)
    return decoder.eval(), wrapper, len(official)


def _links_after(input_ids: torch.Tensor, hidden: torch.Tensor, token_id: int,
                 count: int) -> torch.Tensor:
    """[1, 1, N, C] hidden states of the N positions after the (first) ``token_id``."""
    position = int((input_ids[0] == token_id).nonzero()[0, 0])
    return hidden[:, position + 1:position + 1 + count][:, None]


@torch.no_grad()
def generation_parity(reference_dir: str) -> List[Tuple[str, float, str]]:
    """Rows (name, max |ours - official|, note) for ``sd_cond``, ``ip2p_cond`` (case E) and
    ``llm_sd_cond``, ``llm_ip2p_cond`` (case A)."""
    rows = []
    case_a_ids = reference_array(reference_dir, 'llm_input_ids')
    case_a_hidden = reference_array(reference_dir, 'llm_hidden_states')[-1]  # [1, L, C] normed
    for group, (prefix, _, _, name) in _WRAPPERS.items():
        decoder, wrapper, count = build_reference_generation_decoder(reference_dir, group)
        token_id, n = int(wrapper['trigger_token_id']), int(wrapper['num_embed_tokens'])
        null = f'null context: {decoder.null_context_source}'
        cases = (
            ('E', reference_array(reference_dir, f'{name}_input_ids'),
             reference_array(reference_dir, f'{name}_link_hidden_states'), f'{name}_cond'),
            ('A', case_a_ids, case_a_hidden, f'llm_{name}_cond'),
        )
        for label, ids, hidden, target in cases:
            links = _links_after(ids, hidden, token_id, n)
            context = decoder.map_links(links, torch.ones(1, 1, dtype=torch.bool))
            rows.append(
                (f'{label} {target}', max_abs_diff(context, reference_array(reference_dir, target)),
                 f'{type(decoder).__name__}: {count} {prefix}* tensors loaded strictly; '
                 f'{null}'))
    return rows
