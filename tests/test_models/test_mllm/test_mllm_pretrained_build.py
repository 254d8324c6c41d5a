"""VisionLLMv2 builds from real-layout local checkpoints (``save_pretrained`` directories)."""
import torch
from mllm_builders import build_model, save_word_tokenizer, tiny_model_cfg
from transformers import (AutoConfig, AutoModelForCausalLM, AutoTokenizer, CLIPVisionConfig,
                          CLIPVisionModel)


def test_builds_from_local_checkpoint_dirs(tmp_path):
    torch.manual_seed(0)
    clip_dir, llm_dir = str(tmp_path / 'clip'), str(tmp_path / 'llm')
    clip = CLIPVisionModel(
        CLIPVisionConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=2))
    clip.save_pretrained(clip_dir)
    save_word_tokenizer(llm_dir)
    tokenizer = AutoTokenizer.from_pretrained(llm_dir)
    llm = AutoModelForCausalLM.from_config(
        AutoConfig.for_model(
            'llama',
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4))
    llm.save_pretrained(llm_dir)

    cfg = tiny_model_cfg(llm_dir, dict(det=dict(type='ToyPointLinkDecoder')))
    cfg['vision_encoder'] = dict(type='CLIPVisionEncoder', pretrained_path=clip_dir)
    cfg['llm'] = dict(type='HFCausalLM', pretrained_path=llm_dir)  # tokenizer from the same dir
    model = build_model(cfg)
    model.init_weights()  # what the runner calls: it must not re-initialise loaded HF weights

    loaded_clip = model.vision_encoder.clip.state_dict()
    for name, value in clip.state_dict().items():
        torch.testing.assert_close(loaded_clip[name], value, msg=name)
    loaded_llm = model.llm.model.state_dict()
    for name, value in llm.state_dict().items():
        if 'embed_tokens' not in name and 'lm_head' not in name:  # these grew by the new tokens
            torch.testing.assert_close(loaded_llm[name], value, msg=name)
    num_words = len(tokenizer)
    rows = model.llm.model.get_input_embeddings().weight
    torch.testing.assert_close(rows[:num_words], llm.get_input_embeddings().weight)
    det_id = model.tokenizer.convert_tokens_to_ids('[DET]')
    assert det_id >= num_words
    torch.testing.assert_close(rows[det_id], llm.get_input_embeddings().weight.mean(0))
    assert model.vision_encoder.tokens_per_tile == 16
