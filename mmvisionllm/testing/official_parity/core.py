"""Parity of the core (CLIP tower, bridge, query tables, LLM) against the official reference.

Cases A and B of the reference (see its README): the official weights are converted with
:func:`convert_official_state_dict` into our reduced-width official config and loaded strictly;
our model then runs the reference's token ids and CLIP tiles. Where a part another work item
provides is not configured (the region encoder), its reference output is written in instead, so
every row measures our code only.
"""
import os.path as osp
import tempfile
from typing import List, Optional, Sequence, Tuple

import torch

from mmvisionllm.models.mllm.official_conversion import (check_official_config,
                                                         convert_official_state_dict,
                                                         read_official_folder)
from .reference import (build_reference_small_model, load_reference_arrays, max_abs_diff,
                        write_vicuna_shaped_tokenizer)

__all__ = ['converted_reference_model', 'core_parity']

Row = Tuple[str, float, str]


def converted_reference_model(reference_dir: str,
                              parts: Sequence[str] = (),
                              tokenizer_dir: Optional[str] = None):
    """Our reduced official model with the reference weights loaded strictly (fp32, eval).

    Args:
        reference_dir (str): The reference folder.
        parts (Sequence[str]): Official-compatible parts to build and convert too
            (``'region_encoder'``, ``'det'``, ``'pose'``, ``'gen'``, ``'edit'``); the official
            tensors of the others are skipped.
        tokenizer_dir (str, optional): A Vicuna-shaped tokenizer; a stand-in is written to a
            temporary folder when None.
    """
    if tokenizer_dir is None:
        tokenizer_dir = write_vicuna_shaped_tokenizer(
            osp.join(tempfile.mkdtemp(prefix='vlv2_tokenizer_'), 'tokenizer'))
    model = build_reference_small_model(tokenizer_dir, parts=parts)
    official, official_config = read_official_folder(reference_dir)
    disagreements = check_official_config(official_config, model)
    if disagreements:
        raise ValueError(f'{reference_dir}/config.json disagrees with our config: '
                         f'{disagreements}')
    part_prefixes = dict(
        region_encoder='region_encoder.*',
        det='gdino.*',
        pose='unipose.*',
        gen='sd.*',
        edit='ip2p.*')
    skip = [p for part, p in part_prefixes.items() if part not in parts]
    state = convert_official_state_dict(model, official, skip=skip)
    state['token_vocabulary'] = model.token_vocabulary
    model.load_state_dict(state, strict=True)
    return model.eval()


def _tiling_row(model, inputs: dict) -> Row:
    """Our CLIP view of ``raw_image`` (``DynamicTiling`` with Pillow + the data preprocessor's
    normalisation) against the official anyres tiles."""
    import PIL

    from mmvisionllm.datasets.transforms import DynamicTiling
    tiling = DynamicTiling(tile_size=model.vision_encoder.image_size, max_tiles=4, backend='pillow')
    tiles = tiling(dict(img=inputs['raw_image']))['clip_img']
    pixels = model.data_preprocessor.normalize_tiles(torch.from_numpy(tiles).permute(0, 3, 1, 2))
    return ('A llm_images from raw_image (preprocessing)', max_abs_diff(
        pixels, inputs['llm_images']), f'DynamicTiling(backend=pillow), Pillow {PIL.__version__} '
            '(the reference used 13.0.0; bicubic upsampling differs between versions)')


@torch.no_grad()
def _case_a(model, inputs: dict, outputs: dict) -> List[Row]:
    rows: List[Row] = [_tiling_row(model, inputs)]
    tiles = torch.from_numpy(inputs['llm_images'])
    features = model.vision_encoder(tiles)
    rows.append(('A vl_bridge_in (CLIP layer -2, no CLS)',
                 max_abs_diff(features.patch_tokens, outputs['llm_vl_bridge_in']), 'vision'))
    region_ref = outputs['region_image_features'][:, 0]  # [3 levels, 576, C_v] of the thumbnail
    rows.append(('A region_image_features (thumbnail, last 3 layers)',
                 max_abs_diff(features.region_layers[-1], region_ref), 'vision'))
    projected = model.projector(features.patch_tokens)
    rows.append(('A vl_bridge_out', max_abs_diff(projected,
                                                 outputs['llm_vl_bridge_out']), 'projector'))
    input_ids = torch.from_numpy(inputs['llm_input_ids'])
    region_tokens = torch.from_numpy(outputs['region_features'])
    embeds = model.embed_inputs(input_ids, projected.flatten(0, 1), region_tokens)
    rows.append(('A llm_inputs_embeds', max_abs_diff(embeds, outputs['llm_inputs_embeds']),
                 'splice: <im_patch>, <region> (reference region rows), query tables'))
    attention_mask = torch.from_numpy(inputs['llm_attention_mask'])
    result = model.llm(
        inputs_embeds=embeds, attention_mask=attention_mask, output_hidden_states=True)
    hidden_ref = outputs['llm_hidden_states']
    rows.append(('A llm_hidden_states[1] (after layer 0)',
                 max_abs_diff(result.hidden_states[1], hidden_ref[1]), 'LLM'))
    rows.append(('A llm_hidden_states[-1] (final norm)',
                 max_abs_diff(result.hidden_states[-1], hidden_ref[2]), 'LLM'))
    positions = torch.from_numpy(outputs['llm_logits_positions'])
    rows.append(('A llm_logits', max_abs_diff(result.logits[:, positions],
                                              outputs['llm_logits']), 'LLM (lm_head)'))
    isolated = model.llm(
        inputs_embeds=torch.from_numpy(outputs['llm_inputs_embeds']),
        attention_mask=attention_mask,
        output_hidden_states=True)
    rows.append(('A llm_logits from the reference inputs_embeds',
                 max_abs_diff(isolated.logits[:, positions], outputs['llm_logits']), 'LLM alone'))
    links = model.super_link.extract(result.hidden_states[-1], input_ids)
    layout = {g: link.embeds[0, link.mask[0]] for g, link in links.items()}
    ref_last = torch.from_numpy(hidden_ref[2][0])
    for group, embeds_of_group in layout.items():
        positions_of_group = _query_positions(model, input_ids[0], group)
        rows.append((f'A link embeddings {group} {tuple(embeds_of_group.shape)}',
                     max_abs_diff(embeds_of_group.flatten(0, 1), ref_last[positions_of_group]),
                     'super_link.extract vs reference hidden states at the [EMB] positions'))
    return rows


def _query_positions(model, input_ids: torch.Tensor, group: str) -> torch.Tensor:
    """Positions of the queries of ``group``'s routing tokens, in order."""
    n = model.super_link.num_queries(group)
    starts = [
        p for p, token in enumerate(input_ids.tolist())
        if model.super_link.group_of_token.get(token) == group
    ]
    return torch.tensor([p + 1 + i for p in starts for i in range(n)], dtype=torch.long)


@torch.no_grad()
def _case_b(model, inputs: dict, outputs: dict) -> List[Row]:
    ids = inputs['gen_input_ids'][0].tolist()
    # the official forward appends [DET]'s queries to a sequence ending with [DET]; ours inserts
    # them with the conversation tokenizer's rule
    ids = model.conversation_tokenizer.insert_queries(ids, has_image=True)
    input_ids = torch.tensor([ids])
    features = model.vision_encoder(torch.from_numpy(inputs['gen_images']))
    embeds = model.embed_inputs(input_ids,
                                model.projector(features.patch_tokens).flatten(0, 1), None)
    rows: List[Row] = [('B gen_inputs_embeds', max_abs_diff(embeds, outputs['gen_inputs_embeds']),
                        'pad image, [DET] queries appended')]
    result = model.llm(
        inputs_embeds=embeds, attention_mask=torch.ones_like(input_ids), output_hidden_states=True)
    rows.append(
        ('B gen_hidden_last', max_abs_diff(result.hidden_states[-1],
                                           outputs['gen_hidden_last']), 'LLM'))
    rows.append(
        ('B gen_logits_last8', max_abs_diff(result.logits[:, -8:],
                                            outputs['gen_logits_last8']), 'LLM'))
    return rows + _case_b_forward(model, input_ids, inputs, outputs) + _case_b_cached(
        model, input_ids, features, outputs)


def _case_b_forward(model, input_ids, inputs, outputs) -> List[Row]:
    """Case B through ``VisionLLMv2.forward(mode='tensor')`` (the data preprocessor's inputs)."""
    from mmvisionllm.structures import MMDataSample
    batch = dict(
        clip_pixels=[torch.from_numpy(inputs['gen_images'])],
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids))
    logits = model(batch, [MMDataSample()], mode='tensor')
    return [('B gen_logits_last8 (model forward)',
             max_abs_diff(logits[:, -8:],
                          outputs['gen_logits_last8']), "VisionLLMv2.forward(mode='tensor')")]


def _case_b_cached(model, input_ids, features, outputs) -> List[Row]:
    """Case B the way our chat path runs it: the prompt, then (emitted ``[DET]`` + its
    placeholders) as one chunk over the KV cache (:class:`LinkAwareGreedyGenerator`)."""
    from transformers import DynamicCache

    from mmvisionllm.models.mllm.link_generation import LinkAwareGreedyGenerator
    generator = LinkAwareGreedyGenerator(model.llm, model.conversation_tokenizer,
                                         model.super_link.group_of_token, model.embed_inputs)
    n = model.super_link.num_queries('det')
    prompt = input_ids[0, :-(n + 1)].tolist()
    chunk = input_ids[0, -(n + 1):].tolist()
    cache = DynamicCache()
    image_tokens = model.projector(features.patch_tokens).flatten(0, 1)
    first = generator._forward(prompt, cache, image_tokens, None, input_ids.device, hidden=True)
    second = generator._forward(chunk, cache, None, None, input_ids.device, hidden=True)
    hidden = torch.cat([first.hidden_states[-1], second.hidden_states[-1]], dim=1)
    logits = torch.cat([first.logits, second.logits], dim=1)
    note = 'KV cache: prompt, then [DET] + placeholders (chat path)'
    return [('B gen_hidden_last (cached chunks)', max_abs_diff(hidden,
                                                               outputs['gen_hidden_last']), note),
            ('B gen_logits_last8 (cached chunks)',
             max_abs_diff(logits[:, -8:], outputs['gen_logits_last8']), note)]


@torch.no_grad()
def _case_a_full(model, inputs: dict, outputs: dict) -> List[Row]:
    """Case A through ``VisionLLMv2.forward`` with our region encoder (when one is configured):
    the two thumbnail masks as the sample's region prompts."""
    from mmvisionllm.structures import MMDataSample
    input_ids = torch.from_numpy(inputs['llm_input_ids'])
    masks = [m.astype(bool) for m in inputs['llm_regions']]
    sample = MMDataSample(metainfo=dict(regions=masks, ori_shape=masks[0].shape))
    batch = dict(
        clip_pixels=[torch.from_numpy(inputs['llm_images'])],
        input_ids=input_ids,
        attention_mask=torch.from_numpy(inputs['llm_attention_mask']))
    logits = model(batch, [sample], mode='tensor')
    positions = torch.from_numpy(outputs['llm_logits_positions'])
    name = type(model.region_encoder).__name__
    return [('A llm_logits (model forward, our region encoder)',
             max_abs_diff(logits[:, positions], outputs['llm_logits']),
             f"VisionLLMv2.forward(mode='tensor') with {name}")]


def core_parity(reference_dir: str, model=None) -> List[Row]:
    """Rows (array, max abs diff, note) of cases A and B for the core parts; with the official
    region encoder registered, case A also runs whole through it."""
    from mmvisionllm.registry import MODELS
    model = model if model is not None else converted_reference_model(reference_dir)
    inputs, outputs, _ = load_reference_arrays(reference_dir)
    rows = _case_a(model, inputs, outputs) + _case_b(model, inputs, outputs)
    if MODELS.get('OfficialRegionEncoder') is not None:
        full = converted_reference_model(reference_dir, parts=('region_encoder', ))
        rows += _case_a_full(full, inputs, outputs)
    return rows
