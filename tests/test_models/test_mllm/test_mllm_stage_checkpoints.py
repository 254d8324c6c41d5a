"""Stage transitions: a checkpoint without LoRA/decoders loads into a LoRA model with decoders."""
import torch
from mllm_builders import build_model, tiny_model_cfg


def test_stage1_checkpoint_loads_into_lora_stage2_model(tokenizer_dir):
    torch.manual_seed(0)
    stage1 = build_model(tiny_model_cfg(tokenizer_dir))
    state = stage1.state_dict()
    torch.manual_seed(1)
    cfg = tiny_model_cfg(tokenizer_dir, dict(det=dict(type='ToyPointLinkDecoder')))
    cfg['llm']['lora'] = dict(r=4, lora_alpha=8, target_modules=['q_proj', 'v_proj'])
    stage2 = build_model(cfg)
    result = stage2.load_state_dict(state, strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all(
        'lora_' in k or 'trainable_tokens_delta' in k or k.startswith(('decoders.', 'super_link.'))
        for k in result.missing_keys)
    loaded = stage2.llm.model.state_dict()
    for key, value in stage1.llm.model.state_dict().items():
        peft_keys = [k for k in loaded if stage2.llm.plain_key(k) == key]
        assert len(peft_keys) == 1, key
        torch.testing.assert_close(loaded[peft_keys[0]], value, msg=key)
    torch.testing.assert_close(stage2.projector.layers[0].weight, stage1.projector.layers[0].weight)
