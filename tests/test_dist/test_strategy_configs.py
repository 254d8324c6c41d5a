"""The 7B strategy configs (DDP, DeepSpeed ZeRO-2/3, FSDP) build, and the FSDP wrap policy picks
the LLM's layers and the decoders' forward-called parts."""
import os.path as osp

import pytest
from mmengine import Config
from mmengine.registry import FUNCTIONS, STRATEGIES
from torch import nn

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE2 = osp.join(REPO, 'configs', 'visionllmv2', 'visionllmv2_7b_coco_stage2{}.py')


def test_stage2_keeps_plain_ddp():
    cfg = Config.fromfile(STAGE2.format(''))
    assert 'runner_type' not in cfg and 'strategy' not in cfg
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel', find_unused_parameters=True)
    assert cfg.optim_wrapper.type == 'AnyDeviceAmpOptimWrapper'  # AmpOptimWrapper on GPUs


@pytest.mark.parametrize('variant,stage', [('_zero2', 2), ('_zero3', 3)])
def test_deepspeed_variants_build(variant, stage):
    pytest.importorskip('deepspeed')
    cfg = Config.fromfile(STAGE2.format(variant))
    assert cfg.runner_type == 'FlexibleRunner'
    assert cfg.optim_wrapper.type == 'DeepSpeedOptimWrapper'
    assert 'clip_grad' not in cfg.optim_wrapper and 'dtype' not in cfg.optim_wrapper
    plain = Config.fromfile(STAGE2.format(''))
    assert cfg.optim_wrapper.optimizer == plain.optim_wrapper.optimizer
    assert cfg.optim_wrapper.paramwise_cfg == plain.optim_wrapper.paramwise_cfg
    strategy = STRATEGIES.build(cfg.strategy)
    assert type(strategy).__name__ == 'DeepSpeedStrategy'
    assert strategy.config['zero_optimization']['stage'] == stage
    # bf16 as autocast over fp32 weights (a bf16-cast model fails in the decoders)
    assert 'bf16' not in strategy.config
    assert strategy.config['torch_autocast'] == dict(enabled=True, dtype='bfloat16')
    assert cfg.model.llm.torch_dtype is None and cfg.model.vision_encoder.torch_dtype is None
    assert strategy.config['gradient_clipping'] == 1.0


def test_fsdp_variant_builds():
    cfg = Config.fromfile(STAGE2.format('_fsdp'))
    assert cfg.runner_type == 'FlexibleRunner'
    assert cfg.optim_wrapper.type == 'ShardedGradClipOptimWrapper'
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=1.0)
    strategy = STRATEGIES.build(cfg.strategy)
    assert type(strategy).__name__ == 'FSDPStrategy'
    assert strategy.state_dict_type.name == 'FULL_STATE_DICT'
    wrapper = cfg.strategy.model_wrapper
    # bf16 as autocast over fp32 units (FSDP's param cast fails in the decoders)
    assert wrapper.use_orig_params and wrapper.mixed_precision.param_dtype == 'float32'
    assert wrapper.mixed_precision.reduce_dtype == 'bfloat16'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    policy = FUNCTIONS.get(wrapper.auto_wrap_policy.type)
    assert callable(policy)


def test_sharded_optim_wrapper_autocasts_the_forward_in_bf16():
    import torch

    from mmvisionllm.engine import ShardedGradClipOptimWrapper
    model = nn.Linear(4, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    wrapper = ShardedGradClipOptimWrapper(optimizer=optimizer, dtype='bfloat16')
    with wrapper.optim_context(model):
        assert model(torch.ones(2, 4)).dtype == torch.bfloat16
    assert model(torch.ones(2, 4)).dtype == torch.float32
    plain = ShardedGradClipOptimWrapper(optimizer=optimizer)
    with plain.optim_context(model):
        assert model(torch.ones(2, 4)).dtype == torch.float32
    with pytest.raises(ValueError, match='bfloat16'):
        ShardedGradClipOptimWrapper(optimizer=optimizer, dtype='float16')


def test_wrap_policy_picks_forward_called_units():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    from mmvisionllm.engine import visionllm_wrap_policy
    layer = LlamaDecoderLayer(
        LlamaConfig(
            hidden_size=8, intermediate_size=16, num_attention_heads=2, num_key_value_heads=2), 0)
    assert visionllm_wrap_policy(layer, recurse=False, nonwrapped_numel=0)
    assert not visionllm_wrap_policy(nn.Linear(2, 2), recurse=False, nonwrapped_numel=0)
    assert visionllm_wrap_policy(nn.Linear(2, 2), recurse=True, nonwrapped_numel=0)
