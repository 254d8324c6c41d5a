"""Must-show 3 on the reduced official reference: its ``model.safetensors`` converted by the
converter tool (every part, UniPose included), ``tools/test.py`` on a
COCO-format set ([DET] teacher-forced with the official answer format, mmdet's CocoMetric), and a
free-running chat that routes to the decoders.

The reference has random weights, so the chat's routing tokens are forced on the LM head
(``chat_helpers.force_tokens``): what is checked is that the emitted [DET] / [GEN] reach the
converted GDINO / SD decoders and come back as predictions, not what a trained model would say.
Skipped without ``VLV2_REFERENCE_DIR`` (and the reference's small SD tokenizer next to it).
"""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from chat_helpers import force_tokens
from mmengine.config import Config

from mmvisionllm.apis import VisionLLMInferencer
from mmvisionllm.testing.official_parity import REFERENCE_ENV, reference_dir

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
COCO_CONFIG = osp.join(ROOT, 'configs/visionllmv2/visionllmv2_official_reference_small_coco.py')
REFERENCE = reference_dir()
SD_TOKENIZER = osp.join(
    osp.dirname(osp.abspath(REFERENCE or '.')), 'checkpoints', 'stable-diffusion-v1-5-small',
    'tokenizer')
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        REFERENCE is None or not osp.isdir(SD_TOKENIZER),
        reason=f'{REFERENCE_ENV} is unset or lacks the reference files / its '
        'checkpoints/stable-diffusion-v1-5-small/tokenizer')
]


def _run(args, env):
    result = subprocess.run(
        [sys.executable] + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """(checkpoint, tokenizer dir, environment) of the converted reference."""
    from mmvisionllm.testing.official_parity import write_vicuna_shaped_tokenizer
    work = tmp_path_factory.mktemp('official_reference')
    vicuna = write_vicuna_shaped_tokenizer(str(work / 'vicuna_tokenizer'), characters=True)
    env = dict(os.environ, VLV2_SD_TOKENIZER=SD_TOKENIZER, PYTHONPATH=ROOT)
    out = _run([
        'tools/model_converters/visionllmv2_to_mmvisionllm.py', REFERENCE,
        str(work / 'converted'), '--config', COCO_CONFIG, '--tokenizer', vicuna
    ], env)
    assert 'wrote' in out
    return str(work / 'converted' / 'visionllmv2.pth'), str(work / 'converted' / 'tokenizer'), env


def test_tools_test_on_a_coco_format_set(converted, tmp_path):
    checkpoint, tokenizer, env = converted
    _run([
        'tools/misc/generate_shapesworld.py', '--out-dir',
        str(tmp_path / 'coco'), '--num-train', '1', '--num-val', '3', '--no-progress'
    ], env)
    env = dict(env, VLV2_COCO_ROOT=str(tmp_path / 'coco') + '/')
    out = _run([
        'tools/test.py', COCO_CONFIG, checkpoint, '--work-dir',
        str(tmp_path / 'work'), '--out',
        str(tmp_path / 'predictions.pkl'), '--cfg-options', f'model.llm.tokenizer_path={tokenizer}',
        'test_dataloader.dataset.pipeline.3.scale=(256,256)'
    ], env)
    assert 'coco/bbox_mAP' in out
    with open(tmp_path / 'coco' / 'annotations' / 'instances_val.json') as f:
        images = json.load(f)['images']
    with open(tmp_path / 'predictions.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == len(images)
    for prediction in predictions:
        # teacher-forced official [DET] answer: the GDINO boxes are in the original image
        boxes = prediction['pred_instances']['bboxes']
        assert boxes.shape[-1] == 4 and len(boxes) > 0
        assert float(boxes.max()) <= 128.01 and float(boxes.min()) >= -0.01


def test_free_running_chat_routes_to_the_decoders(converted):
    checkpoint, tokenizer, _ = converted
    os.environ.setdefault('VLV2_SD_TOKENIZER', SD_TOKENIZER)
    cfg = Config.fromfile(COCO_CONFIG)
    cfg.merge_from_dict({
        'model.llm.tokenizer_path': tokenizer,
        'model.decoders.gen.test_cfg.num_inference_steps': 2,
        'model.max_new_tokens': 8
    })
    inferencer = VisionLLMInferencer(cfg, checkpoint=checkpoint)
    image = np.random.RandomState(0).randint(0, 256, (96, 120, 3), dtype=np.uint8)
    # random weights: the routing tokens are forced (see the module doc)
    handle = force_tokens(inferencer.model, ['piece200', '[DET]', 'piece300', '[GEN]', '</s>'])
    try:
        reply = inferencer.chat(image, 'Find the circle and draw a square.')[0]
    finally:
        handle.remove()
    assert [link.routing_token for link in reply.links] == ['[DET]', '[GEN]']
    assert set(reply.decoder_outputs) == {'det', 'gen'}
    det = reply.decoder_outputs['det'].pred_instances
    assert det.bboxes.shape[-1] == 4 and float(det.bboxes[:, 2].max()) <= 120.01
    generated = reply.decoder_outputs['gen'].pred_image
    assert generated.dtype == torch.uint8 and generated.shape[0] == 3
