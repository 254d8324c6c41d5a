"""tools/misc/gpu_check.py on a CPU: its configs, its table and its --dry-run (no GPU here)."""
import os.path as osp

import pytest
from tool_loader import load_tool

gpu_check = load_tool('misc/gpu_check.py')


def test_configs_put_each_stage_on_its_strategy(tmp_path):
    configs = gpu_check.build_configs(str(tmp_path), batch_size=2)
    assert set(configs) == set(gpu_check.ROWS)
    stage2, zero3, fsdp = (configs[r] for r in gpu_check.ROWS)
    assert 'runner_type' not in stage2 and stage2.model_wrapper_cfg.type == \
        'MMDistributedDataParallel'
    assert stage2.model.llm.lora.r == 32 and set(stage2.model.decoders) == {'det', 'pose'}
    assert zero3.strategy.zero_optimization.stage == 3 and fsdp.strategy.type == 'FSDPStrategy'
    for cfg in (zero3, fsdp):
        assert cfg.model.llm.lora is None and cfg.model.decoders == {}
    # fp32 weights under DeepSpeed's bf16 torch_autocast (it keeps no fp32 master copy)
    assert zero3.model.llm.torch_dtype is None and zero3.strategy.config.torch_autocast.enabled
    assert fsdp.model.llm.torch_dtype is None and fsdp.model.vision_encoder.torch_dtype is None
    for cfg in configs.values():
        assert cfg.model.llm.config.num_hidden_layers == 32
        assert cfg.model.llm.config.hidden_size == 4096
        assert cfg.model.vision_encoder.config.image_size == 336
        assert 'pretrained_path' not in cfg.model.llm


def test_table_has_one_row_per_check():
    rows = [
        dict(
            row='stage2-ddp',
            step_seconds=1.5,
            tokens_per_s=2000.0,
            samples_per_s=1.3,
            peak_mem_mib=40960.0,
            step_tflop=100.0,
            mfu=0.2,
            strategy='DDP'),
        dict(row='stage1-zero3', error='out of memory'),
        dict(
            row='msda', cuda_ms=1.0, pytorch_ms=20.0, out_max_abs_diff=1e-6,
            grad_max_abs_diff=2e-6),
    ]
    table = gpu_check.format_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert '| stage2-ddp | 1.500 | 2000 | 1.30 | 40.0 | 100.0 | 20.0 % | DDP |' in table
    assert table[3].endswith('out of memory |') and 'CUDA 1.00 ms' in table[4]


@pytest.mark.slow
def test_dry_run_builds_the_7b_layout_without_memory(tmp_path):
    rows = gpu_check.main(['--dry-run', '--work-dir', str(tmp_path)])
    planned = {r['row']: r['planned'] for r in rows}
    assert planned['stage2-ddp'].startswith('DDP, 7.0')  # CLIP-L + 7B LLM + decoders
    assert 'DeepSpeedStrategy, 6.8' in planned['stage1-zero3']
    assert osp.isfile(tmp_path / 'stage1-fsdp_config.py')
