"""The 7B stage configs run on tiny folders in the real layouts: build by path, train 2 steps with
the stage's freezing/LoRA in bf16 autocast on the CPU, save an adapter checkpoint, resume exactly,
test, and chat on a photo-sized non-square image."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from stage_runs import stage_config

from mmvisionllm.apis import chat
from mmvisionllm.models.mllm.base_weights import base_weight_names, restore_base_weights
from mmvisionllm.registry import MODELS

STAGE2 = {
    'vicuna': 'visionllmv2_7b_coco_stage2.py',
    'qwen2': 'visionllmv2_qwen2_7b_coco_stage2.py'
}


def _trainable(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _batch(runner):
    return next(iter(runner.build_dataloader(runner.cfg.val_dataloader)))


@pytest.mark.parametrize('family', ['vicuna', 'qwen2'])
def test_stage2_trains_saves_resumes_tests_and_chats(family, layouts, shapesworld, tmp_path):
    work_dir = str(tmp_path / 'run')
    cfg = stage_config(STAGE2[family], layouts['clip'], layouts[family], shapesworld, work_dir,
                       max_iters=4)
    # LoRA dropout draws from the global RNG, whose state a resume does not restore (the RNG
    # state hooks are another issue's): without it a resumed run must match bit for bit
    cfg.model.llm.lora.lora_dropout = 0.0
    full = Runner.from_cfg(cfg.copy())
    full.train()
    assert type(full.optim_wrapper).__name__ == 'AnyDeviceAmpOptimWrapper'
    assert full.optim_wrapper.cast_dtype == torch.bfloat16 and full.optim_wrapper.on_cpu
    model = full.model
    # the folder's image processor gave the CLIP statistics
    torch.testing.assert_close(model.data_preprocessor.mean.flatten(),
                               torch.tensor([0.5, 0.45, 0.4]))
    lora = [n for n, p in model.named_parameters() if p.requires_grad and 'lora_' in n]
    assert lora and not any(
        p.requires_grad for n, p in model.named_parameters()
        if n.startswith(('vision_encoder.', 'projector.', 'region_encoder.')))

    # the checkpoint holds what trains, not the frozen CLIP / LLM base
    checkpoint = torch.load(osp.join(work_dir, 'iter_2.pth'), map_location='cpu',
                            weights_only=True)
    saved = set(checkpoint['state_dict'])
    base = base_weight_names(model)
    assert base and not saved & base
    assert not any(k.startswith('vision_encoder.') for k in saved)
    assert set(_trainable(model)) <= saved
    record = checkpoint['meta']['adapter_checkpoint']
    assert record['base_sources'] == {
        'vision_encoder.clip': osp.abspath(layouts['clip']),
        'llm.model': osp.abspath(layouts[family])
    }
    assert checkpoint['optimizer']['state']

    # a run killed after 2 steps resumes from the adapter checkpoint to the same weights
    resumed_cfg = cfg.copy()
    resumed_cfg.work_dir = str(tmp_path / 'resumed')
    resumed_cfg.resume = True
    resumed_cfg.load_from = osp.join(work_dir, 'iter_2.pth')
    resumed = Runner.from_cfg(resumed_cfg)
    resumed.train()
    assert resumed.iter == full.iter == 4
    finished = _trainable(full.model)
    for name, value in _trainable(resumed.model).items():
        assert torch.equal(value, finished[name]), name

    # test loop, then the reloaded adapter checkpoint computes what the trained model computes
    metrics = resumed.test()
    assert 'vqa/accuracy' in metrics or any('accuracy' in k for k in metrics)
    reloaded = MODELS.build(cfg.model)
    last = torch.load(osp.join(work_dir, 'iter_4.pth'), map_location='cpu', weights_only=True)
    restore_base_weights(reloaded, last)
    reloaded.load_state_dict(last['state_dict'], strict=True)
    reloaded.eval()
    model.eval()
    batch = _batch(resumed)
    with torch.no_grad(), torch.autocast('cpu', torch.bfloat16):
        expected = model(**model.data_preprocessor(batch), mode='tensor')
        got = reloaded(**reloaded.data_preprocessor(batch), mode='tensor')
    assert torch.equal(got, expected)

    # chat on a photo-sized, non-square image (480 x 640)
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    replies = chat(reloaded, image, 'what colour is the circle ?')
    assert len(replies) == 1 and isinstance(replies[0].text, str)
