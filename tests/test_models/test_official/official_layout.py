"""Synthetic official-layout VisionLLM v2 state dicts from the names/shapes facts.

``tests/data/official/official_visionllmv2_7b_state_dict.json`` lists every tensor of the released
7B model (repeated layers shown once as layer 0, see its ``collapsed_layers``). These helpers
expand the layers and either keep the real shapes (on the meta device) or shrink every width to
the reduced reference config (1024 -> 64, 4096 -> 128, 11008 -> 256; 2 LLM and 3 CLIP layers).
"""
import json
import os.path as osp
import re
from typing import Dict, Sequence, Tuple

import torch

FACTS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(__file__))), 'data', 'official',
    'official_visionllmv2_7b_state_dict.json')
CORE_PREFIXES = ('vis_encoder.', 'vl_bridge.', 'llm.', 'emb_embeddings_')
PART_PREFIXES = ('region_encoder.', 'gdino.', 'unipose.', 'sd.', 'ip2p.')
SMALL_WIDTHS = {1024: 64, 4096: 128, 11008: 256}
#: Per part, real width -> reduced width of the synthetic whole model (the reduced reference's
#: LLM 128 / CLIP 64; GDINO and UniPose at real size as in the reference, only their link inputs
#: 4096 -> 128; the SD-1.5 / IP2P structure kept, UNet widths / 10, VAE widths / 4, text/context
#: width 768 -> 48).
PART_WIDTHS = {
    'region_encoder.': SMALL_WIDTHS,
    'gdino.': {
        4096: 128
    },
    'unipose.': {
        4096: 128
    },
    'sd.': {
        4096: 128,
        768: 48,
        2304: 144,
        3072: 192,
        320: 32,
        640: 64,
        960: 96,
        1280: 128,
        1920: 192,
        2560: 256,
        5120: 512,
        10240: 1024,
        128: 32,
        256: 64,
        512: 128
    },
}
PART_WIDTHS['ip2p.'] = PART_WIDTHS['sd.']


def load_facts() -> dict:
    with open(FACTS) as f:
        return json.load(f)


def prefix_shapes(prefix: str) -> Dict[str, list]:
    """Official name (``prefix`` stripped) -> shape, for a part not collapsed in the facts (the
    region encoder and the decoders: every tensor is listed)."""
    return {
        name[len(prefix):]: shape
        for name, shape in load_facts()['params'].items() if name.startswith(prefix)
    }


def prefix_aliases(prefix: str) -> list:
    """The alias groups (lists of official names, ``prefix`` kept) of one part."""
    return [group for group in load_facts()['aliases'] if group[0].startswith(prefix)]


def official_shapes(prefixes: Sequence[str] = CORE_PREFIXES,
                    num_llm_layers: int = None,
                    num_vision_layers: int = None) -> Dict[str, Tuple[int, ...]]:
    """Official name -> shape for ``prefixes``, repeated layers expanded (defaults: 7B counts)."""
    facts = load_facts()
    counts = {}
    for pattern, info in facts['collapsed_layers'].items():
        counts[info['shown_as']] = info['count']
    llm_shown = 'llm.model.layers.0'
    vis_shown = 'vis_encoder.vision_model.encoder.layers.0'
    counts[llm_shown] = num_llm_layers or counts[llm_shown]
    counts[vis_shown] = num_vision_layers or counts[vis_shown]
    shapes: Dict[str, Tuple[int, ...]] = {}
    for name, shape in facts['params'].items():
        if not name.startswith(tuple(prefixes)):
            continue
        shown = next((s for s in counts if name.startswith(s + '.')), None)
        if shown is None:
            shapes[name] = tuple(shape)
            continue
        stem = re.sub(r'\.0$', '', shown)
        for i in range(counts[shown]):
            shapes[f'{stem}.{i}{name[len(shown):]}'] = tuple(shape)
    return shapes


def swin_relative_position_index(window: int) -> torch.Tensor:
    """The [window², window²] index of a Swin window's relative position bias table: token
    (i, j) against token (k, l) reads row (i - k + window - 1) * (2 * window - 1) + j - l + window
    - 1 (the constant the release saves in its state dict)."""
    rows, cols = torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')
    rows, cols = rows.flatten(), cols.flatten()
    d_row = rows[:, None] - rows[None, :] + window - 1
    d_col = cols[:, None] - cols[None, :] + window - 1
    return d_row * (2 * window - 1) + d_col


def small_official_state(seed: int = 0,
                         prefixes: Sequence[str] = CORE_PREFIXES) -> Dict[str, torch.Tensor]:
    """A random official-layout state dict of ``prefixes`` (default: the core parts) at the
    reduced widths (:data:`SMALL_WIDTHS`, :data:`PART_WIDTHS`); Swin's integer
    ``relative_position_index`` buffers are random valid indices for GDINO (whose Swin recomputes
    them) and the true constant for UniPose (whose converter checks them against ours)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in official_shapes(prefixes, num_llm_layers=2, num_vision_layers=3).items():
        part = next((p for p in PART_WIDTHS if name.startswith(p)), None)
        widths = PART_WIDTHS[part] if part else SMALL_WIDTHS
        small = tuple(widths.get(d, d) for d in shape)
        if name.endswith('relative_position_index') and part == 'unipose.':
            state[name] = swin_relative_position_index(int(round(small[0]**0.5)))
        elif name.endswith('relative_position_index'):
            state[name] = torch.randint(0, 169, small, generator=generator)
        else:
            state[name] = torch.randn(small, generator=generator)
    return state
