"""Parity of :class:`OfficialUniPoseDecoder` against the official reference, cases D and G.

Case D runs ``model.unipose(NestedTensor(pixel_values, mask), None, text_query)`` of the reduced
official model (UniPose-T at real size, projections from the reference LLM width) on fixed link
states. Here the same ``unipose.*`` tensors are loaded through
:meth:`~OfficialUniPoseDecoder.convert_official_state_dict` and the same inputs are fed to
:meth:`~OfficialUniPoseDecoder.forward_official`.

Query-indexed outputs are compared on the queries whose selections agree (``arrays.json``
``query_alignment``): box queries of layers 0-1 by ``unipose_enc_topk_index``, pose groups (and
their 69 queries in layers 2-5) by ``unipose_group_topk_index`` together with
``unipose_group_enc_position``; and again with both selections teacher-forced. Infinite entries
(masked class slots) must sit at the same places.
"""
from typing import Dict, List, Tuple

import torch
from torch import Tensor

from .reference import load_official_prefix, load_reference_config, max_abs_diff, reference_array

__all__ = ['build_reference_unipose', 'unipose_case_d', 'unipose_case_g_links', 'unipose_parity']

Row = Tuple[str, float, str]


def build_reference_unipose(reference_dir: str):
    """The decoder at the reference's size with the reference weights converted and loaded."""
    from mmvisionllm.models.decoders.pose.official import OfficialUniPoseDecoder
    cfg = load_reference_config(reference_dir)['unipose_config']
    decoder = OfficialUniPoseDecoder(
        in_channels=cfg['l_hidden_size'],
        num_queries=cfg.get('num_embs', 4),
        num_body_points=cfg['num_body_points'],
        num_box_decoder_layers=cfg['num_box_decoder_layers'],
        transformer=dict(
            num_queries=cfg['num_queries'],
            d_model=cfg['hidden_dim'],
            encoder_layers=cfg['enc_layers'],
            decoder_layers=cfg['dec_layers'],
            positional_embedding_temperature=cfg['pe_temperatureH']))
    official = load_official_prefix(reference_dir, 'unipose.')
    decoder.load_state_dict(decoder.convert_official_state_dict(official), strict=True)
    return decoder.eval()


def _rows(out: Dict[str, object], reference_dir: str, prefix: str, tag: str) -> List[Row]:
    """Rows of one run against the reference arrays named ``{prefix}*``."""

    def arr(name: str) -> Tensor:
        return reference_array(reference_dir, prefix + name)

    rows: List[Row] = []
    enc_index = arr('enc_topk_index')
    agree = (out['topk_index'] == enc_index)[0]
    note = f'{int(agree.sum())}/{agree.numel()} box queries aligned'
    rows.append((f'{prefix}enc_topk_index[{tag}] swapped', float(
        (~agree).sum()), 'queries whose encoder position differs'))
    rows.append((f'{prefix}enc_topk_score[{tag}]',
                 max_abs_diff(out['topk_score'][:, agree],
                              arr('enc_topk_score')[:, agree]), note))
    group_index = arr('group_topk_index')
    enc_position = torch.gather(out['topk_index'], 1, out['group_index'])
    g_agree = ((out['group_index'] == group_index) & (enc_position == arr('group_enc_position')))[0]
    g_note = f'{int(g_agree.sum())}/{g_agree.numel()} pose groups aligned'
    rows.append((f'{prefix}group_topk_index[{tag}] swapped', float(
        (~g_agree).sum()), 'pose groups whose selection differs'))
    rows.append((f'{prefix}group_topk_score[{tag}]',
                 max_abs_diff(out['group_scores'][:, g_agree],
                              arr('group_topk_score')[:, g_agree]), g_note))
    for name in ('pred_logits', 'pred_boxes', 'pred_keypoints'):
        rows.append(
            (f'{prefix}{name}[{tag}]', max_abs_diff(out[name][:, g_agree],
                                                    arr(name)[:, g_agree]), g_note))
    if prefix != 'unipose_':  # case G stores only the final outputs
        return rows
    rows.append(
        (f'unipose_hs_enc[{tag}]', max_abs_diff(out['hs_enc'][:, agree],
                                                arr('hs_enc')[0][:, agree]), note))
    rows.append((f'unipose_ref_enc[{tag}]',
                 max_abs_diff(out['ref_enc'][:, agree],
                              arr('ref_enc')[0][:, agree]), note))
    group_len = out['hidden'][-1].shape[1] // g_agree.numel()
    q_agree = g_agree.repeat_interleave(group_len)
    for level, hidden in enumerate(out['hidden']):
        keep = agree if hidden.shape[1] == agree.numel() else q_agree
        rows.append(
            (f'unipose_dec_hidden_{level}[{tag}]',
             max_abs_diff(hidden[:, keep],
                          arr(f'dec_hidden_{level}')[:, keep]), note if keep is agree else g_note))
    for level, reference in enumerate(out['references']):
        keep = agree if reference.shape[1] == agree.numel() else q_agree
        rows.append(
            (f'unipose_dec_reference_{level}[{tag}]',
             max_abs_diff(reference[:, keep],
                          arr(f'dec_reference_{level}')[:,
                                                        keep]), note if keep is agree else g_note))
    return rows


@torch.no_grad()
def unipose_case_d(reference_dir: str,
                   teacher_force: bool = True,
                   free: bool = True,
                   decoder=None) -> List[Row]:
    """Measure case D; rows of (array, max |diff|, note)."""

    def ref(name: str) -> Tensor:
        return reference_array(reference_dir, name)

    decoder = decoder or build_reference_unipose(reference_dir)
    args = [
        ref('unipose_pixel_values'), ~ref('unipose_pixel_mask'),
        ref('unipose_obj_querys'),
        ref('unipose_obj_query_masks'),
        ref('unipose_kpt_querys'),
        ref('unipose_kpt_query_masks')
    ]
    rows: List[Row] = []
    kpt = decoder.projection_kpt_llava(args[4][0])
    rows.append(
        ('unipose_projection_kpt', max_abs_diff(kpt, ref('unipose_projection_kpt')), 'elementwise'))
    runs = []
    if free:
        runs.append(('free', None, None))
    if teacher_force:
        runs.append(
            ('teacher-forced', ref('unipose_enc_topk_index'), ref('unipose_group_topk_index')))
    for tag, topk, group in runs:
        out = decoder.forward_official(*args, topk_index=topk, group_index=group)
        if not rows[1:]:
            rows.append(('unipose_projection_obj',
                         max_abs_diff(out['projection_obj'],
                                      ref('unipose_projection_obj')), 'elementwise'))
            for name, key in (('unipose_enc_memory', 'memory'), ('unipose_enc_memory_text',
                                                                 'memory_text')):
                rows.append((name, max_abs_diff(out[key], ref(name)), 'elementwise'))
        rows.extend(_rows(out, reference_dir, 'unipose_', tag))
    return rows


@torch.no_grad()
def unipose_case_g_links(reference_dir: str, decoder=None) -> List[Row]:
    """Case G's UniPose half from the reference's own link states (``e2e_pose_*_querys``).

    The official forward of case G builds the masks from the nonzero slots (1 object, 17
    keypoints) and feeds the det-branch image ``e2e_pose_images_aug`` padded to 32; both
    selections are teacher-forced from the case-G arrays. The LLM half belongs to the core.
    """

    def ref(name: str) -> Tensor:
        return reference_array(reference_dir, name)

    decoder = decoder or build_reference_unipose(reference_dir)
    image = ref('e2e_pose_images_aug')
    h, w = image.shape[-2:]
    pad_h, pad_w = -(-h // 32) * 32, -(-w // 32) * 32
    pixel_values = torch.nn.functional.pad(image, (0, pad_w - w, 0, pad_h - h))[None]
    valid = torch.zeros(1, pad_h, pad_w, dtype=torch.bool)
    valid[:, :h, :w] = True
    obj = ref('e2e_pose_obj_querys')
    kpt = ref('e2e_pose_kpt_querys')
    obj_mask = obj.abs().sum((-1, -2)) > 0
    kpt_mask = kpt.abs().sum((-1, -2)) > 0
    out = decoder.forward_official(
        pixel_values,
        valid,
        obj,
        obj_mask,
        kpt,
        kpt_mask,
        topk_index=ref('e2e_pose_unipose_enc_topk_index'),
        group_index=ref('e2e_pose_unipose_group_topk_index'))
    return _rows(out, reference_dir, 'e2e_pose_unipose_', 'teacher-forced')


def unipose_parity(reference_dir: str) -> List[Row]:
    """Rows for ``tools/analysis_tools/official_parity.py``: case D (free and teacher-forced) and
    the UniPose half of case G."""
    threads = torch.get_num_threads()
    decoder = build_reference_unipose(reference_dir)
    rows = unipose_case_d(
        reference_dir, decoder=decoder) + unipose_case_g_links(
            reference_dir, decoder=decoder)
    return [(name, diff, f'{note}; {threads} thread(s)') for name, diff, note in rows]
