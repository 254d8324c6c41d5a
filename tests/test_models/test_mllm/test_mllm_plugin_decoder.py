"""A decoder defined only in the tests plugs in by config, trains through the core and predicts."""
import glob
import os.path as osp

import torch
from learning_figures import report_figures
from mllm_builders import REPO_ROOT, circle_square_det_sample, make_sample, random_inputs
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from mmvisionllm.registry import MODELS

PLUGIN_CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs',
                         'visionllmv2_tiny_toy_link_decoder.py')


def _batch():
    samples = [
        circle_square_det_sample(),
        make_sample(
            'grd',
            '<image>\nfind the red circle .',
            'the red circle [GRD]', ['the red circle'],
            boxes=[[30, 2, 46, 18]],
            labels=[0]),
    ]
    return dict(inputs=random_inputs(2, seed=1), data_samples=samples)


def test_core_does_not_name_the_plugin():
    for path in glob.glob(osp.join(REPO_ROOT, 'mmvisionllm', '**', '*.py'), recursive=True):
        with open(path) as f:
            assert 'ToyPointLinkDecoder' not in f.read(), path


def test_plugin_decoder_trains_and_predicts(tokenizer_dir):
    """30 steps on 2 samples: both losses halve, boxes land near their targets, chat routes.

    The same figures to 4 digits under the five kernel settings of
    ``tools/analysis_tools/learning_test_spread.py`` (1 and 2 threads, oneDNN off, ATen AVX2 and
    unvectorised; AVX-512 CPU): box loss ratio 0.284 and LM loss ratio 0.193 (bounds 0.5), mean box
    error 4.64 px (bound 6; predicting both targets' mean box errs by 12), both chat replies exact:
    ``python tools/analysis_tools/learning_test_spread.py tests/test_models/test_mllm/
    test_mllm_plugin_decoder.py::test_plugin_decoder_trains_and_predicts``.
    """
    torch.manual_seed(0)
    cfg = Config.fromfile(PLUGIN_CONFIG)  # imports tests/data/toy_link_decoder.py (custom_imports)
    cfg.merge_from_dict({
        'model.llm.tokenizer_path': tokenizer_dir,
        'model.llm.config.hidden_size': 64,
        'model.llm.config.intermediate_size': 128,
        'model.llm.config.num_hidden_layers': 2,
        'model.vision_encoder.config.image_size': 32,
        'model.vision_encoder.config.hidden_size': 32,
        'model.region_encoder.stem_channels': 16,
    })
    model = MODELS.build(cfg.model)
    decoder = model.decoders['det']
    assert type(decoder).__name__ == 'ToyPointLinkDecoder' and decoder.in_channels == 64
    assert model.super_link.query_tables['det'].weight.shape == (4, 64)

    optim_wrapper = OptimWrapper(
        torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3))
    model.train()
    history = [model.train_step(_batch(), optim_wrapper) for _ in range(30)]
    first, last = history[0], history[-1]
    model.eval()
    predicted = model.test_step(_batch())
    predict_call = decoder.calls[-1]
    expected = torch.tensor([[4, 4, 20, 20], [24, 30, 44, 46]], dtype=torch.float32)
    model.predict_mode = 'chat'  # the trained LLM emits the routing tokens itself
    chat = model.test_step(_batch())
    report_figures(
        box_loss_ratio=last['loss_det_box'] / first['loss_det_box'],
        lm_loss_ratio=last['loss_lm'] / first['loss_lm'],
        box_error=(predicted[0].pred_instances.bboxes - expected).abs().mean(),
        mean_box_guess_error=(expected - expected.mean(0)).abs().mean(),
        chat_routed=[s.metainfo['pred_text']
                     for s in chat] == ['circle [DET], square [DET]', 'the red circle [GRD]'])

    assert set(first) == {'loss', 'loss_lm', 'loss_det_box', 'det_box_targets'}
    assert last['loss_det_box'] < 0.5 * first['loss_det_box']
    assert last['loss_lm'] < 0.5 * first['loss_lm']
    assert decoder.calls[0] == dict(
        mode='loss', shape=(2, 2, 4, 64), link_tokens=[['[DET]', '[DET]'], ['[GRD]']])
    assert predict_call == dict(mode='predict', shape=(2, 2, 4, 64))
    det, grd = predicted
    assert det.pred_instances.bboxes.shape == (2, 4) and grd.pred_instances.bboxes.shape == (1, 4)
    assert (det.pred_instances.bboxes - expected).abs().mean() < 6

    det, grd = chat
    assert det.metainfo['pred_text'] == 'circle [DET], square [DET]'
    assert grd.metainfo['pred_text'] == 'the red circle [GRD]'
    assert grd.metainfo['target_names'] == ['the red circle']
    assert det.pred_instances.bboxes.shape == (2, 4)
