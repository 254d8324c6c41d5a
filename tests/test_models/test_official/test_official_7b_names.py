"""Every core tensor of the released 7B model maps onto our 7B official config (meta device)."""
import os.path as osp

import torch
from mmengine.config import Config

from mmvisionllm.models.mllm.official_conversion import OFFICIAL_PARTS, convert_official_state_dict
from mmvisionllm.registry import MODELS
from .official_layout import CORE_PREFIXES, PART_PREFIXES, load_facts, official_shapes

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
CONFIG = osp.join(ROOT, 'configs/visionllmv2/visionllmv2_7b_official.py')


def test_7b_core_names_and_shapes_map_completely(vicuna_tokenizer_dir):
    cfg = Config.fromfile(CONFIG)
    cfg.model.llm.tokenizer_path = vicuna_tokenizer_dir
    cfg.model.region_encoder = None  # parts of the other work items
    cfg.model.decoders = None
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    shapes = official_shapes(CORE_PREFIXES)
    assert len(shapes) == 391 + 291 + 4 + 4  # the facts' per-prefix tensor counts
    official = {k: torch.empty(s, device='meta') for k, s in shapes.items()}
    target = model.state_dict()
    converted = convert_official_state_dict(model, official, target=target)
    # 100 %: every official core tensor placed, every tensor of ours filled, shapes equal
    assert len(converted) == len(official) == len(target) - 1  # - token_vocabulary
    for name, value in converted.items():
        assert tuple(value.shape) == tuple(target[name].shape), name
    # the prefixes left to the other parts' converters
    facts = load_facts()
    left = {k.split('.', 1)[0] + '.' for k in facts['params'] if not k.startswith(CORE_PREFIXES)}
    assert left == set(PART_PREFIXES) == set(OFFICIAL_PARTS)
