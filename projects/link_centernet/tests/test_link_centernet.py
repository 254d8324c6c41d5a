"""LinkCenterNetDecoder: mmdet's CenterNetHead, fed by link embeddings, learns a grounding box
through the core and predicts it in original-image pixels; built from the project's config."""
import os.path as osp

import torch
from learning_figures import report_figures
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.structures import InstanceData

from mmvisionllm.registry import MODELS
from mmvisionllm.structures import MMDataSample

HERE = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(HERE, 'configs', 'visionllmv2_tiny_grd_centernet_shapesworld.py')


def _decoder(in_channels=16):
    cfg = Config.fromfile(CONFIG)  # custom_imports: projects.link_centernet.link_centernet
    decoder_cfg = cfg.model.decoders.grd.to_dict()
    decoder_cfg.update(in_channels=in_channels, image_size=64, feat_channels=32)
    decoder_cfg['head'].update(in_channels=32, feat_channels=32)
    return MODELS.build(decoder_cfg)


def _samples():
    samples = []
    for box in ([8, 8, 40, 40], [60, 70, 100, 120]):
        sample = MMDataSample(metainfo=dict(ori_shape=(128, 128), img_id=0))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([box], dtype=torch.float32), labels=torch.tensor([0]))
        samples.append(sample)
    return samples


def _box_errors(predicted):
    """Per sample, the largest coordinate error (pixels) of the best-scored box."""
    errors = []
    for sample, truth in zip(predicted, _samples()):
        best = sample.pred_instances.bboxes[sample.pred_instances.scores.argmax()]
        errors.append(float((best - truth.gt_instances.bboxes[0]).abs().max()))
    return errors


def test_the_mmdet_head_learns_a_box_from_link_embeddings():
    """150 steps on 2 images: the loss falls and the best box lands on the bright target.

    Measured under the five kernel settings of ``tools/analysis_tools/learning_test_spread.py``
    (1 and 2 threads, oneDNN off, ATen AVX2 and unvectorised; AVX-512 CPU): loss ratio
    0.0008-0.005 (bound 0.3), largest box-corner error 0.71-1.36 px (bound 12 px; the untrained
    decoder's is 105 px): ``python tools/analysis_tools/learning_test_spread.py projects/
    link_centernet/tests/test_link_centernet.py::test_the_mmdet_head_learns_a_box_from_link_embeddings``.
    """
    torch.manual_seed(0)
    decoder = _decoder()
    assert type(decoder.head).__name__ == 'CenterNetHead'  # the mmdet head, from the config
    images = [torch.full((3, 128, 128), 30, dtype=torch.uint8) for _ in range(2)]
    for image, sample in zip(images, _samples()):
        x1, y1, x2, y2 = sample.gt_instances.bboxes[0].long().tolist()
        image[:, y1:y2, x1:x2] = 220  # a bright box where the target is
    link = torch.randn(2, 1, 4, 16)
    mask = torch.ones(2, 1, dtype=torch.bool)
    optimizer = OptimWrapper(torch.optim.Adam(decoder.parameters(), lr=3e-3))
    decoder.eval()
    untrained = _box_errors(decoder.predict(link, mask, images, _samples()))
    decoder.train()
    first = None
    for _ in range(150):
        losses = decoder.loss(link, mask, images, _samples())
        total = sum(losses.values())
        first = first if first is not None else float(total)
        optimizer.update_params(total)
    assert set(losses) == {'loss_center_heatmap', 'loss_wh', 'loss_offset'}
    decoder.eval()
    predicted = decoder.predict(link, mask, images, _samples())
    report_figures(
        loss_ratio=float(total) / first,
        box_error=max(_box_errors(predicted)),
        untrained_box_error=max(untrained))
    assert float(total) < 0.3 * first
    for sample, truth in zip(predicted, _samples()):
        best = sample.pred_instances.bboxes[sample.pred_instances.scores.argmax()]
        assert (best - truth.gt_instances.bboxes[0]).abs().max() < 12, best
        assert set(sample.pred_instances.labels.tolist()) == {0}
