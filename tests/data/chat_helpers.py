"""Helpers of the chat / inferencer tests: tiny configs and forced generations."""
import os.path as osp

from mllm_builders import REPO_ROOT, save_word_tokenizer
from mmengine.config import Config

PLUGIN_CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs',
                         'visionllmv2_tiny_toy_link_decoder.py')
DEMO_CONFIG = osp.join(REPO_ROOT, 'configs', 'visionllmv2', 'visionllmv2_tiny_shapesworld.py')


def toy_config(tokenizer_dir: str) -> Config:
    """The tiny VisionLLMv2 with the toy [DET] and [POSE] decoders of tests/data (32 px tiles)."""
    cfg = Config.fromfile(PLUGIN_CONFIG)
    cfg.merge_from_dict({
        'model.llm.tokenizer_path': save_word_tokenizer(tokenizer_dir),
        'model.llm.config.hidden_size': 64,
        'model.llm.config.intermediate_size': 128,
        'model.llm.config.num_hidden_layers': 2,
        'model.vision_encoder.config.image_size': 32,
        'model.vision_encoder.config.hidden_size': 32,
        'model.max_new_tokens': 12,
    })
    cfg.model.decoders['pose'] = dict(
        type='ToyPointLinkDecoder', routing_tokens=('[POSE]', ), num_queries=2)
    return cfg


def force_tokens(model, tokens):
    """Make greedy generation emit ``tokens`` in order (a forward hook on the LM head); returns
    the hook handle."""
    ids = model.tokenizer.convert_tokens_to_ids(tokens)
    calls = []

    def hook(module, args, logits):
        if len(calls) < len(ids):
            logits = logits.clone()
            logits[:, -1, ids[len(calls)]] += 1e4
        calls.append(1)
        return logits

    return model.llm.model.get_output_embeddings().register_forward_hook(hook)
