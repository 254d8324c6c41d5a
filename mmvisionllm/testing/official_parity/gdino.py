"""Parity of :class:`OfficialGroundingDinoDecoder` against the official reference, case C (and F).

Case C runs ``model.gdino(pixel_values, pixel_mask, text_query, text_query_masks)`` of the reduced
official model (GDINO-T at real size, ``patch2query`` from the reference LLM width) on fixed link
states. Here the same ``gdino.*`` tensors are loaded through
:meth:`~OfficialGroundingDinoDecoder.convert_official_state_dict` and the same inputs are fed to
:meth:`~OfficialGroundingDinoDecoder.forward_official`.

Query-indexed outputs are compared on the queries whose two-stage selection agrees
(``arrays.json`` ``query_alignment``: same encoder position ``gdino_enc_topk_index`` at the same
query slot), and again with the selection teacher-forced from ``gdino_enc_topk_index``. Infinite
entries (masked class slots, invalidated proposals) must sit at the same places; the differences
are measured over the finite ones.
"""
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .reference import (load_official_prefix, load_reference_arrays, load_reference_config,
                        max_abs_diff)

__all__ = [
    'build_reference_gdino', 'gdino_case_c', 'gdino_case_f_links', 'gdino_link_forward',
    'gdino_parity'
]

Row = Tuple[str, float, str]


def build_reference_gdino(reference_dir: str):
    """The decoder at the reference's size, with the reference weights converted and loaded.

    Args:
        reference_dir (str): folder with ``model.safetensors`` and ``config.json``.

    Returns:
        OfficialGroundingDinoDecoder: in eval mode.
    """
    from mmvisionllm.models.decoders.detection.official import OfficialGroundingDinoDecoder
    gdino_cfg = load_reference_config(reference_dir)['gdino_config']
    decoder = OfficialGroundingDinoDecoder(
        in_channels=gdino_cfg['l_hidden_size'],
        num_queries=gdino_cfg.get('num_embs', 4),
        mask_dim=gdino_cfg['mask_dim'],
        transformer=dict(
            num_queries=gdino_cfg['num_queries'],
            d_model=gdino_cfg['d_model'],
            max_text_len=gdino_cfg['max_text_len'],
            positional_embedding_temperature=gdino_cfg['positional_embedding_temperature']))
    official = load_official_prefix(reference_dir, 'gdino.')
    decoder.load_state_dict(decoder.convert_official_state_dict(official), strict=True)
    return decoder.eval()


@torch.no_grad()
def gdino_link_forward(decoder,
                       link_states: Tensor,
                       link_mask: Tensor,
                       image: Tensor,
                       topk_index: Optional[Tensor] = None) -> Dict[str, Tensor]:
    """Case F entry: link states + one unpadded det-branch image -> logits / boxes / masks.

    Args:
        decoder (OfficialGroundingDinoDecoder): the decoder.
        link_states (Tensor): [B, n_classes, N, C] link states.
        link_mask (Tensor): [B, n_classes] bool.
        image (Tensor): [3, h, w] normalised image (``e2e_det_images_aug``) or [B, 3, H, W] padded.
        topk_index (Tensor, optional): teacher-forced selection.

    Returns:
        dict: ``logits`` [B, Q, 256], ``pred_boxes`` [B, Q, 4], ``pred_masks``, ``topk_index``.
    """
    if image.dim() == 3:
        h, w = image.shape[-2:]
        pad_h, pad_w = -(-h // 32) * 32, -(-w // 32) * 32
        image = torch.nn.functional.pad(image, (0, pad_w - w, 0, pad_h - h))[None]
    # the official forward derives the mask from the padded tensor
    pixel_mask = image[:, 0] != 0
    return decoder.forward_official(
        image, pixel_mask, link_states, link_mask.bool(), with_masks=True, topk_index=topk_index)


def _compare(out: Dict[str, Tensor], ref: dict, tag: str, decoder) -> List[Row]:
    """Rows for one run (free or teacher-forced)."""
    rows: List[Row] = []
    ref_index = torch.from_numpy(ref['gdino_enc_topk_index'])
    agree = (out['topk_index'] == ref_index)[0]
    n_agree = int(agree.sum())
    note = f'{n_agree}/{agree.numel()} queries aligned'
    rows.append((f'gdino_enc_topk_index[{tag}] swapped', float(agree.numel() - n_agree),
                 'queries whose encoder position differs'))
    for name, key, axis in (('gdino_logits', 'logits', 1), ('gdino_pred_boxes', 'pred_boxes', 1),
                            ('gdino_init_reference_points', 'init_reference_points', 1)):
        rows.append((f'{name}[{tag}]',
                     max_abs_diff(out[key][:, agree],
                                  torch.from_numpy(ref[name])[:, agree]), note))
    hidden = out['intermediate_hidden_states']
    rows.append((f'gdino_dec_hidden[{tag}]',
                 max_abs_diff(hidden[:, :, agree],
                              torch.from_numpy(ref['gdino_dec_hidden'])[:, :, agree]), note))
    rows.append((f'gdino_dec_reference[{tag}]',
                 max_abs_diff(out['intermediate_reference_points'][:, :, agree],
                              torch.from_numpy(ref['gdino_dec_reference'])[:, :, agree]), note))
    subset = torch.from_numpy(ref['gdino_pred_masks_query_index'])
    keep = agree[subset]
    rows.append((f'gdino_pred_masks_sub[{tag}]',
                 max_abs_diff(out['pred_masks'][:, subset][:, keep],
                              torch.from_numpy(ref['gdino_pred_masks_sub'])[:, keep]),
                 f'{int(keep.sum())}/{keep.numel()} stored mask queries aligned'))
    return rows


@torch.no_grad()
def gdino_case_c(reference_dir: str, teacher_force: bool = True) -> List[Row]:
    """Measure case C; rows of (array, max |diff|, note)."""
    inputs, ref, _ = load_reference_arrays(reference_dir)
    decoder = build_reference_gdino(reference_dir)
    pixel_values = torch.from_numpy(inputs['gdino_pixel_values'])
    pixel_mask = torch.from_numpy(inputs['gdino_pixel_mask'])
    text_query = torch.from_numpy(inputs['gdino_text_query'])
    text_mask = torch.from_numpy(inputs['gdino_text_query_masks'])
    rows: List[Row] = []
    p2q = decoder.patch2query(text_query)
    rows.append(('gdino_patch2query_out',
                 max_abs_diff(p2q, torch.from_numpy(ref['gdino_patch2query_out'])), 'elementwise'))
    out = decoder.forward_official(pixel_values, pixel_mask, text_query, text_mask)
    num_slots = ref['gdino_enc_outputs_class'].shape[-1]
    for name, value in (('gdino_enc_vision', out['memory']), ('gdino_enc_text', out['memory_text']),
                        ('gdino_enc_outputs_class', out['enc_outputs_class'][..., :num_slots]),
                        ('gdino_enc_outputs_coord_logits', out['enc_outputs_coord_logits'])):
        rows.append((name, max_abs_diff(value, torch.from_numpy(ref[name])), 'elementwise'))
    rows.extend(_compare(out, ref, 'free', decoder))
    if teacher_force:
        forced = decoder.forward_official(
            pixel_values,
            pixel_mask,
            text_query,
            text_mask,
            topk_index=torch.from_numpy(ref['gdino_enc_topk_index']))
        rows.extend(_compare(forced, ref, 'teacher-forced', decoder))
    return rows


@torch.no_grad()
def gdino_case_f_links(reference_dir: str) -> List[Row]:
    """Case F's GDINO half from the reference's own link states (``e2e_det_text_query``).

    Feeds the unpadded det image ``e2e_det_images_aug`` through :func:`gdino_link_forward` (pad to
    32, mask from the padded tensor, as the official forward), teacher-forced from
    ``e2e_det_gdino_enc_topk_index``. The LLM half of case F belongs to the core's parity.
    """
    inputs, ref, _ = load_reference_arrays(reference_dir)
    decoder = build_reference_gdino(reference_dir)
    index = torch.from_numpy(ref['e2e_det_gdino_enc_topk_index'])
    out = gdino_link_forward(
        decoder,
        torch.from_numpy(ref['e2e_det_text_query']),
        torch.from_numpy(ref['e2e_det_text_query_masks']),
        torch.from_numpy(inputs['e2e_det_images_aug']),
        topk_index=index)
    rows = [(f'e2e_det_gdino_{key}[teacher-forced]',
             max_abs_diff(out[key],
                          torch.from_numpy(ref[f'e2e_det_gdino_{key}'])), 'reference link states')
            for key in ('logits', 'pred_boxes')]
    subset = torch.from_numpy(ref['gdino_pred_masks_query_index'])
    rows.append(('e2e_det_gdino_pred_masks_sub[teacher-forced]',
                 max_abs_diff(out['pred_masks'][:, subset],
                              torch.from_numpy(ref['e2e_det_gdino_pred_masks_sub'])),
                 'reference link states'))
    return rows


def gdino_parity(reference_dir: str) -> List[Row]:
    """Rows for ``tools/analysis_tools/official_parity.py``: case C (free and teacher-forced) and
    the GDINO half of case F."""
    threads = torch.get_num_threads()
    rows = gdino_case_c(reference_dir, teacher_force=True) + gdino_case_f_links(reference_dir)
    return [(name, diff, f'{note}; {threads} thread(s)') for name, diff, note in rows]
