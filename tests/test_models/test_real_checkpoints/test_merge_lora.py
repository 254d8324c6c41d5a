"""tools/model_converters/merge_lora.py: an adapter checkpoint becomes a Hugging Face folder (and a
full checkpoint) that computes what the LoRA model computes."""
import copy
import sys

import torch
from mllm_builders import make_sample, random_inputs, tiny_model_cfg
from mmengine.config import Config
from tool_loader import load_tool
from transformers import AutoModelForCausalLM

from mmvisionllm.models.mllm.base_weights import base_weight_names, strip_base_weights
from mmvisionllm.registry import MODELS

merge_lora = load_tool('model_converters/merge_lora.py')


def _logits(model, data):
    model.eval()
    with torch.no_grad():
        return model(**model.data_preprocessor(copy.deepcopy(data)), mode='tensor')


def test_merged_folder_and_full_checkpoint_compute_like_the_lora_model(
        layouts, tmp_path, monkeypatch):
    model_cfg = tiny_model_cfg(layouts['vicuna'], dict(det=dict(type='ToyPointLinkDecoder')))
    model_cfg['vision_encoder'] = dict(type='CLIPVisionEncoder', pretrained_path=layouts['clip'])
    model_cfg['llm'] = dict(
        type='HFCausalLM',
        pretrained_path=layouts['vicuna'],
        lora=dict(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=['q_proj', 'v_proj']))
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    with torch.no_grad():  # stands in for training: LoRA, token rows and projector move
        for name, param in model.named_parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.05)
    checkpoint = dict(state_dict=model.state_dict(), meta={})
    assert strip_base_weights(model, checkpoint)
    path = str(tmp_path / 'adapter.pth')
    torch.save(checkpoint, path)
    data = dict(
        inputs=random_inputs(1, tile_size=28),
        data_samples=[make_sample('vqa', '<image>\nwhat colour is the circle ?', 'red')])
    expected = _logits(model, data)

    config = str(tmp_path / 'config.py')
    Config(dict(model=model_cfg)).dump(config)
    hf_dir, full = str(tmp_path / 'merged'), str(tmp_path / 'full.pth')
    monkeypatch.setattr(sys, 'argv',
                        ['merge_lora.py', config, path, '--hf-dir', hf_dir, '--out', full])
    merge_lora.main()

    # the folder loads in plain transformers and as the next stage's llm.pretrained_path
    assert AutoModelForCausalLM.from_pretrained(hf_dir).get_input_embeddings().weight.shape[0] \
        == len(model.tokenizer)
    plain_cfg = copy.deepcopy(model_cfg)
    plain_cfg['llm'] = dict(type='HFCausalLM', pretrained_path=hf_dir)
    next_stage = MODELS.build(plain_cfg)
    rest = torch.load(f'{hf_dir}/visionllmv2_rest.pth', weights_only=True)['state_dict']
    result = next_stage.load_state_dict(rest, strict=False)
    assert not result.unexpected_keys and all(k.startswith('llm.') for k in result.missing_keys)
    torch.testing.assert_close(_logits(next_stage, data), expected, atol=1e-4, rtol=1e-4)
    # frozen (as under the next stage's LoRA), the merged LLM is a base weight: checkpoints
    # leave it out again
    next_stage.llm.requires_grad_(False)
    assert {k for k in next_stage.state_dict() if k.startswith('llm.')} <= \
        base_weight_names(next_stage)

    # the single full checkpoint loads strictly into the config without LoRA
    no_lora = copy.deepcopy(model_cfg)
    no_lora['llm'].pop('lora')
    deployed = MODELS.build(no_lora)
    deployed.load_state_dict(torch.load(full, weights_only=True)['state_dict'], strict=True)
    torch.testing.assert_close(_logits(deployed, data), expected, atol=1e-4, rtol=1e-4)
