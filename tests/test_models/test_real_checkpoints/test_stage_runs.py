"""The 7B stage configs run on tiny folders in the real layouts: build by path, train 2 steps with
the stage's freezing/LoRA in bf16 autocast on the CPU, save an adapter checkpoint, resume exactly,
test, and chat on a photo-sized non-square image."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from stage_runs import REPO_ROOT, stage_config

from mmvisionllm.apis import chat
from mmvisionllm.models.mllm.base_weights import base_weight_names, restore_base_weights
from mmvisionllm.registry import MODELS

DECODERS = osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'decoders')
STAGE2 = {'vicuna': 'visionllmv2_7b_coco_stage2.py', 'qwen2': 'visionllmv2_qwen2_7b_coco_stage2.py'}


def _trainable(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _resume(cfg, checkpoint: str, work_dir: str) -> Runner:
    """A run of ``cfg`` resumed from ``checkpoint``, trained to the end."""
    cfg = cfg.copy()
    cfg.work_dir = work_dir
    cfg.resume = True
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _batch(runner):
    return next(iter(runner.build_dataloader(runner.cfg.val_dataloader)))


@pytest.mark.parametrize('family', ['vicuna', 'qwen2'])
def test_stage2_trains_saves_resumes_tests_and_chats(family, layouts, shapesworld, tmp_path):
    work_dir = str(tmp_path / 'run')
    cfg = stage_config(
        STAGE2[family], layouts['clip'], layouts[family], shapesworld, work_dir, max_iters=4)
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
    assert lora and not any(p.requires_grad for n, p in model.named_parameters()
                            if n.startswith(('vision_encoder.', 'projector.', 'region_encoder.')))

    # the checkpoint holds what trains, not the frozen CLIP / LLM base
    checkpoint = torch.load(osp.join(work_dir, 'iter_2.pth'), map_location='cpu', weights_only=True)
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
    resumed = _resume(cfg, osp.join(work_dir, 'iter_2.pth'), str(tmp_path / 'resumed'))
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


def _sd_decoder(name: str, variable: str, folder: str, unet_folder: str) -> dict:
    cfg = Config.fromfile(osp.join(DECODERS, name))[variable].to_dict()
    for key in ('unet', 'vae', 'noise_scheduler', 'text_encoder', 'tokenizer'):
        cfg[key]['pretrained'] = unet_folder if key == 'unet' else folder
    cfg.update(num_queries=4, image_size=32, gradient_checkpointing=False)
    cfg['test_cfg']['num_inference_steps'] = 2
    return cfg


def test_stage2_with_grounding_dino_sd15_and_instruct_pix2pix(layouts, sd_layouts, shapesworld,
                                                              tmp_path):
    """Stage 2 with the real decoder plugins: Grounding DINO (det_tiny sizes), [GEN] from an SD 1.5
    folder, [EDIT] from an InstructPix2Pix folder; their frozen VAE / text encoders are base
    weights too, left out of the checkpoint and restored on resume."""
    decoders = dict(
        det=Config.fromfile(osp.join(DECODERS, 'det_tiny.py')).det_decoder.to_dict(),
        gen=_sd_decoder('gen_sd15.py', 'gen_decoder', sd_layouts['sd15'], sd_layouts['sd15']),
        edit=_sd_decoder('edit_sd15.py', 'edit_decoder', sd_layouts['sd15'], sd_layouts['ip2p']))
    work_dir = str(tmp_path / 'run')
    cfg = stage_config(
        STAGE2['vicuna'],
        layouts['clip'],
        layouts['vicuna'],
        shapesworld,
        work_dir,
        max_iters=4,
        decoders=decoders,
        train_sets=['shapesworld_det_train', 'shapesworld_gen_train', 'shapesworld_edit_train'],
        group_ratios=dict(det=0.4, gen=0.3, edit=0.3))
    cfg.model.llm.lora.lora_dropout = 0.0
    runner = Runner.from_cfg(cfg.copy())
    runner.train()
    model = runner.model
    checkpoint = torch.load(osp.join(work_dir, 'iter_2.pth'), map_location='cpu', weights_only=True)
    saved = set(checkpoint['state_dict'])
    sources = checkpoint['meta']['adapter_checkpoint']['base_sources']
    assert {'decoders.gen.codec.vae', 'decoders.gen.text_encoder',
            'decoders.edit.text_encoder'} <= set(sources)
    assert not any(
        k.startswith(('decoders.gen.codec.vae.', 'decoders.gen.text_encoder.', 'vision_encoder.'))
        for k in saved)
    assert any(k.startswith('decoders.gen.unet.') for k in saved)  # the UNet trains
    assert any(k.startswith('decoders.det.detector.backbone.') for k in saved)
    resumed = _resume(cfg, osp.join(work_dir, 'iter_2.pth'), str(tmp_path / 'resumed'))
    assert resumed.iter == 4
    # the frozen parts came back from the folders, identical to the trained run's
    finished = model.state_dict()
    for key in base_weight_names(model):
        assert torch.equal(resumed.model.state_dict()[key], finished[key]), key
    resumed.test()
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    replies = chat(resumed.model, image, 'detect the star')
    assert len(replies) == 1 and isinstance(replies[0].text, str)
