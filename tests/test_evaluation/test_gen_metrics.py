"""Known-answer tests of the generation / editing metrics on rendered ShapesWorld scenes.

The detector is a geometry oracle with the detector interface: it returns the boxes/masks/classes of
the known scene whose layout is closest to the image, so the tests exercise what the metrics measure
themselves — the caption parsing, the colour read from the pixels and the object bookkeeping. The
mmdet
path (config + checkpoint through ``init_detector``) is tested separately with the shipped DINO
baseline config and a randomly initialised checkpoint.
"""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmdet.apis import init_detector
from mmengine.config import Config

from mmvisionllm.apis import VisionLLMShapesDetector
from mmvisionllm.datasets.shapesworld import Scene, SceneObject, render_scene
from mmvisionllm.datasets.shapesworld.captions import text_to_image_caption
from mmvisionllm.datasets.shapesworld.scene_facts import collect_object_facts
from mmvisionllm.datasets.shapesworld.vocabulary import build_word_level_tokenizer
from mmvisionllm.datasets.shapesworld.world_spec import CATEGORY_NAMES, COLOURS
from mmvisionllm.evaluation.metrics import (PixelFrechetDistance, ShapesEditMetric,
                                            ShapesGenEvalMetric, ShapesVocabulary, frechet_distance,
                                            parse_caption, pixel_features)
from mmvisionllm.evaluation.metrics.gen_object_checker import (FoundObject, check_objects,
                                                               colour_distances, measure_colour)
from mmvisionllm.models.mllm import VisionLLMv2
from mmvisionllm.models.mllm.link_generation import EmittedLink, GeneratedTurn
from mmvisionllm.registry import METRICS, MODELS

SIZE = 128


def _scene(*objects) -> Scene:
    return Scene(SIZE, (232, 230, 228), (212, 210, 208), tuple(objects))


SCENES = [
    _scene(SceneObject('circle', 'red', 'large', (40.0, 50.0), 18.0)),
    _scene(
        SceneObject('star', 'blue', 'large', (36.0, 40.0), 18.0),
        SceneObject('square', 'yellow', 'small', (95.0, 90.0), 9.0, 10.0)),
    _scene(
        SceneObject('triangle', 'green', 'large', (64.0, 40.0), 17.0, 5.0),
        SceneObject('cross', 'purple', 'small', (60.0, 100.0), 9.0)),
    _scene(
        SceneObject('square', 'red', 'small', (30.0, 90.0), 9.0),
        SceneObject('circle', 'green', 'large', (90.0, 40.0), 16.0)),
]


def _render(scene: Scene) -> np.ndarray:
    return render_scene(scene).image


def _caption(scene: Scene) -> str:
    return text_to_image_caption(collect_object_facts(scene, render_scene(scene)))


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


def _noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)


class OracleDetector:
    """Geometry oracle with the detector interface (``classes`` + ``__call__``)."""

    classes = CATEGORY_NAMES

    def __init__(self, scenes, with_masks: bool = True) -> None:
        self.known = [(_render(s), s, render_scene(s)) for s in scenes]
        self.with_masks = with_masks
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        out = []
        for img in images:
            assert img.dtype == np.uint8 and img.shape[-1] == 3
            # the scene with the same layout: compare foreground masks (colour-blind)
            fg = np.abs(img.astype(int) - img[:, :1].astype(int)).sum(-1) > 60
            ious = []
            for ref, _, rendered in self.known:
                ref_fg = np.any(np.stack(rendered.visible_masks), axis=0)
                ious.append((fg & ref_fg).sum() / max((fg | ref_fg).sum(), 1))
            _, scene, rendered = self.known[int(np.argmax(ious))]
            boxes = []
            for mask in rendered.visible_masks:
                ys, xs = np.nonzero(mask)
                boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            det = dict(
                bboxes=np.asarray(boxes, np.float32),
                labels=np.asarray([CATEGORY_NAMES.index(o.category) for o in scene.objects]),
                scores=np.ones(len(scene.objects), np.float32))
            if self.with_masks:
                det['masks'] = np.stack(rendered.visible_masks)
            out.append(det)
        return out


def _gen_samples(images, captions):
    return [
        dict(pred_image=_chw(img) if img is not None else None, caption=cap)
        for img, cap in zip(images, captions)
    ]


def test_parse_dataset_captions_and_templates():
    vocab = ShapesVocabulary.from_config()
    assert set(vocab.colours) == set(COLOURS) and vocab.classes == CATEGORY_NAMES
    present, absent = parse_caption(
        'Please generate an image of a large red circle left of a small blue star.', vocab)
    assert [(s.category, s.colour, s.size, s.count)
            for s in present] == [('circle', 'red', 'large', 1), ('star', 'blue', 'small', 1)]
    assert absent == []
    present, absent = parse_caption('Draw two small yellow stars and 3 crosses, no squares.', vocab)
    assert [(s.category, s.colour, s.count) for s in present] == [('star', 'yellow', 2),
                                                                  ('cross', None, 3)]
    assert [s.category for s in absent] == ['square']
    # the dataset's own t2i captions parse to exactly the scene's objects
    for scene in SCENES:
        present, _ = parse_caption(_caption(scene), vocab)
        assert sorted((s.category, s.colour, s.size) for s in present) == sorted(
            (o.category, o.colour, o.size) for o in scene.objects)


def test_colour_measurement_from_mask_and_box():
    scene = SCENES[1]
    image, rendered = _render(scene), render_scene(scene)
    for obj, mask in zip(scene.objects, rendered.visible_masks):
        ys, xs = np.nonzero(mask)
        box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert measure_colour(image, box, COLOURS, mask=mask) == obj.colour
        assert measure_colour(image, box, COLOURS) == obj.colour  # background-subtracted box
        assert measure_colour(_noise(0), box, COLOURS, mask=mask) is None  # grey mean: no colour


def test_colour_distances_known_answer():
    colours = {'red': (255, 0, 0), 'black': (0, 0, 0)}
    image = np.zeros((4, 6, 3), np.uint8)
    image[1:3, 2:4] = (255, 0, 0)
    image[1, 2] = (195, 0, 80)  # mean of the four masked pixels: (240, 0, 20)
    mask = np.zeros((4, 6), bool)
    mask[1:3, 2:4] = True
    dists = colour_distances(image, None, colours, mask)
    assert dists['red'] == pytest.approx(25.0)  # |(240, 0, 20) - (255, 0, 0)| = 5 * |(3, 4)|
    assert dists['black'] == pytest.approx(np.hypot(240.0, 20.0))
    # without a mask: the box's pixels off the (black) border-column background, the same four
    assert colour_distances(image, (0, 0, 6, 4), colours) == pytest.approx(dists)
    assert colour_distances(np.zeros_like(image), (0, 0, 6, 4), colours) is None  # no foreground
    with pytest.raises(ValueError, match='needs a box'):
        colour_distances(image, None, colours, np.zeros_like(mask))


def test_check_objects_counts_and_extras():
    red = FoundObject('circle', 'red', 1.0, (0, 0, 1, 1))
    blue = FoundObject('circle', 'blue', 1.0, (0, 0, 1, 1))
    vocab = ShapesVocabulary.from_config()
    two_circles, _ = parse_caption('two circles', vocab)
    assert check_objects([red, blue], two_circles)
    assert not check_objects([red], two_circles)
    red_circle, _ = parse_caption('a red circle', vocab)
    assert check_objects([red], red_circle)
    assert not check_objects([red, blue], red_circle)  # an extra object
    assert check_objects([red, blue], red_circle, check_extra=False)
    assert not check_objects([blue], red_circle)
    _, no_blue = parse_caption('no blue circle', vocab)
    assert not check_objects([blue], [], no_blue)


@pytest.mark.parametrize('with_masks', [True, False])
def test_geneval_known_answers(with_masks):
    detector = OracleDetector(SCENES, with_masks=with_masks)
    metric = ShapesGenEvalMetric(detector=detector)
    captions = [_caption(s) for s in SCENES]
    real = [_render(s) for s in SCENES]
    metric.process({}, _gen_samples(real, captions))
    result = metric.evaluate(len(SCENES))
    assert result['geneval/accuracy'] == 1.0
    assert result['geneval/num_samples'] == len(SCENES)
    assert result['geneval/accuracy_single'] == 1.0 and result['geneval/accuracy_multi'] == 1.0

    metric.process({}, _gen_samples([_noise(i) for i in range(len(SCENES))], captions))
    assert metric.evaluate(len(SCENES))['geneval/accuracy'] == 0.0

    # right layout, wrong colours (every object painted in the next colour) -> fails
    names = list(COLOURS)
    recoloured = []
    for scene in SCENES:
        objs = [
            o.with_colour(names[(names.index(o.colour) + 1) % len(names)]) for o in scene.objects
        ]
        recoloured.append(_render(_scene(*objs)))
    metric.process({}, _gen_samples(recoloured, captions))
    assert metric.evaluate(len(SCENES))['geneval/accuracy'] == 0.0

    # a caption asking for something else, and a sample the model never drew
    metric.process({}, _gen_samples([real[0], None], ['a large blue circle', captions[1]]))
    assert metric.evaluate(2)['geneval/accuracy'] == 0.0


def test_geneval_reads_the_conversation_and_builds_from_registry():
    detector = OracleDetector(SCENES)
    metric = METRICS.build(dict(type='ShapesGenEvalMetric', detector=detector))
    sample = dict(
        pred_image=_chw(_render(SCENES[2])),
        conversation=[{
            'from': 'human',
            'value': 'Draw ' + _caption(SCENES[2]) + '.'
        }, {
            'from': 'gpt',
            'value': 'Here is the image [GEN]'
        }])
    metric.process({}, [sample])
    assert metric.evaluate(1)['geneval/accuracy'] == 1.0


def _edit_triplets():
    """(source, target) image pairs: recolour one object, remove one object."""
    src1 = SCENES[1]
    tgt1 = src1.replace_object(0, src1.objects[0].with_colour('green'))
    src2 = SCENES[3]
    tgt2 = src2.without_object(0)
    return [(src1, tgt1), (src2, tgt2)]


def test_edit_metric_known_answers():
    triplets = _edit_triplets()
    detector = OracleDetector([s for pair in triplets for s in pair])
    metric = ShapesEditMetric(detector=detector)

    def run(preds):
        samples = [
            dict(pred_image=None if p is None else _chw(p), gt_image=_chw(_render(t)))
            for p, (_, t) in zip(preds, triplets)
        ]
        metric.process({}, samples)
        return metric.evaluate(len(samples))

    perfect = run([_render(t) for _, t in triplets])
    assert perfect['edit/success'] == 1.0
    assert perfect['edit/l1'] == 0.0 and perfect['edit/psnr'] == 100.0
    unedited = run([_render(s) for s, _ in triplets])  # the model copied the source
    assert unedited['edit/success'] == 0.0
    assert 0.0 < unedited['edit/l1'] < 0.05 and unedited['edit/psnr'] < 40.0
    noise = run([_noise(1), _noise(2)])
    assert noise['edit/success'] == 0.0 and noise['edit/l1'] > 0.25 and noise['edit/psnr'] < 10
    half = run([_render(triplets[0][1])[::2, ::2], None])  # resized prediction, one missing
    assert half['edit/success'] == 0.5 and half['edit/num_missing'] == 1
    assert half['edit/l1'] < 0.03


def test_edit_metric_scores_the_unchanged_source(tmp_path):
    """reference_images: the do-nothing edit (source read from img_path) is the chance level."""
    triplets = _edit_triplets()
    metric = ShapesEditMetric(
        detector=OracleDetector([s for pair in triplets for s in pair]), reference_images=True)
    samples = []
    for k, (source, target) in enumerate(triplets):
        path = str(tmp_path / f'source_{k}.png')
        mmcv.imwrite(_render(source)[..., ::-1], path)
        samples.append(
            dict(pred_image=_chw(_render(target)), gt_image=_chw(_render(target)), img_path=path))
    metric.process({}, samples)
    result = metric.evaluate(len(samples))
    assert result['edit/success'] == 1.0 and result['edit/source_success'] == 0.0
    assert 0.0 < result['edit/source_l1'] < 0.05
    # the second sample gets the first one's target: a real image, the wrong edit
    assert result['edit/mismatched_success'] == 0.0
    same_twice = ShapesEditMetric(
        detector=OracleDetector([s for pair in triplets for s in pair]), reference_images=True)
    same_twice.process({}, [samples[0], samples[0]])  # the "wrong" target is the right one
    assert same_twice.evaluate(2)['edit/mismatched_success'] == 1.0
    pixels_only = ShapesEditMetric(detector=None, reference_images=True)
    pixels_only.process({}, samples)
    result = pixels_only.evaluate(len(samples))
    assert 'edit/success' not in result and 'edit/source_success' not in result
    assert result['edit/psnr'] == 100.0 and result['edit/source_psnr'] < 40.0
    # a missing edit: the do-nothing edit is scored on the same samples as the model's pixels
    one_missing = ShapesEditMetric(detector=None, reference_images=True)
    one_missing.process({}, [samples[0], dict(samples[1], pred_image=None)])
    result_missing = one_missing.evaluate(2)
    first_only = ShapesEditMetric(detector=None, reference_images=True)
    first_only.process({}, [samples[0]])
    result_first = first_only.evaluate(1)
    assert result_missing['edit/num_missing'] == 1
    assert result_missing['edit/source_l1'] == pytest.approx(result_first['edit/source_l1'])
    assert result_missing['edit/source_psnr'] == pytest.approx(result_first['edit/source_psnr'])


def test_gen_metric_reference_images():
    """Real images score the detector's upper bound; another prompt's image scores chance."""
    captions = [_caption(s) for s in SCENES]
    metric = ShapesGenEvalMetric(detector=OracleDetector(SCENES), reference_images=True)
    metric.process({}, [
        dict(pred_image=None, gt_image=_chw(_render(s)), caption=c)
        for s, c in zip(SCENES, captions)
    ])
    result = metric.evaluate(len(SCENES))
    assert result['geneval/accuracy'] == 0.0  # nothing generated
    assert result['geneval/accuracy_real_images'] == 1.0
    assert result['geneval/accuracy_mismatched_images'] == 0.0  # the scenes differ


def test_pixel_frechet_distance():
    real = [_render(s) for s in SCENES]
    feats = np.stack([pixel_features(img) for img in real])
    assert feats.shape == (len(SCENES), 8 * 8 * 3 + 4**3)
    assert frechet_distance(feats, feats) < 1e-3
    noise_feats = np.stack([pixel_features(_noise(i)) for i in range(len(SCENES))])
    assert frechet_distance(noise_feats, feats) > 5.0

    metric = PixelFrechetDistance()
    metric.process({}, [dict(pred_image=_chw(img), gt_image=_chw(img)) for img in real])
    same = metric.evaluate(len(real))['gen/pixel_fd']
    shuffled = real[1:] + real[:1]  # same distribution, other pairing: still 0
    metric.process({}, [dict(pred_image=_chw(a), gt_image=_chw(b)) for a, b in zip(shuffled, real)])
    assert abs(metric.evaluate(len(real))['gen/pixel_fd'] - same) < 1e-3
    metric.process(
        {}, [dict(pred_image=_chw(_noise(i)), gt_image=_chw(img)) for i, img in enumerate(real)])
    assert metric.evaluate(len(real))['gen/pixel_fd'] > same + 5.0

    # the mean image given for every prompt: worse than the real set, 0 when all targets are equal
    metric = PixelFrechetDistance(reference_images=True)
    metric.process({}, [dict(pred_image=_chw(img), gt_image=_chw(img)) for img in real])
    result = metric.evaluate(len(real))
    assert result['gen/pixel_fd_mean_image'] > result['gen/pixel_fd'] + 0.5
    metric.process({}, [dict(pred_image=_chw(real[0]), gt_image=_chw(real[0]))] * 3)
    assert metric.evaluate(3)['gen/pixel_fd_mean_image'] < 1e-3


def test_pixel_frechet_distance_counts_missing_images_and_refuses_missing_targets():
    real = [_render(s) for s in SCENES]
    metric = PixelFrechetDistance()
    metric.process({},
                   [dict(pred_image=_chw(img), gt_image=_chw(img))
                    for img in real] + [dict(pred_image=None, gt_image=_chw(real[0]), img_id=7)])
    result = metric.evaluate(len(real) + 1)
    assert result['gen/num_missing'] == 1 and result['gen/num_samples'] == len(real)
    assert result['gen/pixel_fd'] < 1e-3  # the scored pairs are identical
    with pytest.raises(ValueError, match='sample 7 has no gt_image'):
        metric.process({}, [dict(pred_image=_chw(real[0]), gt_image=None, img_id=7)])


def test_detector_with_non_finite_boxes_is_refused():
    """A detector with unusable weights must not turn into a silently wrong score."""
    detector = OracleDetector(SCENES)

    def broken(images):
        return [dict(det, bboxes=det['bboxes'] * np.nan) for det in detector(images)]

    broken.classes = CATEGORY_NAMES
    metric = ShapesGenEvalMetric(detector=broken)
    with pytest.raises(ValueError, match='non-finite boxes'):
        metric.process({}, _gen_samples([_render(SCENES[0])], [_caption(SCENES[0])]))


def test_mmdet_detector_missing_paths(tmp_path):
    metric = ShapesGenEvalMetric(
        detector=dict(
            type='MMDetShapesDetector',
            config=str(tmp_path / 'nope.py'),
            checkpoint=str(tmp_path / 'nope.pth')))  # built lazily: training may start
    with pytest.raises(FileNotFoundError, match='detector.config'):
        metric.process({}, _gen_samples([_render(SCENES[0])], ['a large red circle']))


def test_mmdet_detector_from_config_and_checkpoint(tmp_path):
    """The real path: the DINO baseline config + a checkpoint file, loaded by init_detector."""
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    config = osp.join(repo, 'configs', 'baselines', 'dino_tiny_shapesworld_det.py')
    model = init_detector(config, None, device='cpu')
    model.init_weights()  # init_detector leaves that to the checkpoint; unset memory may be NaN
    checkpoint = str(tmp_path / 'dino_random.pth')
    torch.save(
        dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=CATEGORY_NAMES))),
        checkpoint)
    metric = ShapesGenEvalMetric(
        detector=dict(type='MMDetShapesDetector', config=config, checkpoint=checkpoint))
    assert metric.detector.classes == CATEGORY_NAMES
    dets = metric.detector([_render(SCENES[0]), _render(SCENES[1])])
    assert len(dets) == 2
    for det in dets:
        n = len(det['scores'])
        assert det['bboxes'].shape == (n, 4) and det['labels'].shape == (n, )
        assert det['labels'].max() < len(CATEGORY_NAMES)
    metric.process({}, _gen_samples([_render(SCENES[0])], [_caption(SCENES[0])]))
    result = metric.evaluate(1)
    assert 0.0 <= result['geneval/accuracy'] <= 1.0  # random weights: only the plumbing is checked


def test_generalist_detector_from_config_and_checkpoint(tmp_path, monkeypatch):
    """The generalist's own [DET] decoder as the detector: the instruction lists the classes and the
    [DET] links the model emits become labelled detections. The LLM's reply is fixed here (the tiny
    model is untrained); the detection decoder runs for real."""
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    tokenizer_dir = str(tmp_path / 'tokenizer')
    build_word_level_tokenizer(['Please detect the following objects in the image: circle.']) \
        .save_pretrained(tokenizer_dir)
    config = tmp_path / 'generalist.py'
    base = osp.join(repo, 'configs', 'visionllmv2', 'visionllmv2_tiny_det_shapesworld.py')
    config.write_text(f"""_base_ = ['{base}']
model = dict(llm=dict(tokenizer_path='{tokenizer_dir}',
                      config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2)))
""")
    model = MODELS.build(Config.fromfile(str(config)).model)
    model.init_weights()
    checkpoint = str(tmp_path / 'generalist.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)

    def fixed_reply(self, *args):
        return [
            GeneratedTurn(
                'circle [DET] , star [DET]',
                links=[
                    EmittedLink('[DET]', 'det', 'circle', torch.randn(4, 64)),
                    EmittedLink('[DET]', 'det', 'star', torch.randn(4, 64))
                ])
        ]

    monkeypatch.setattr(VisionLLMv2, 'generate_turns', fixed_reply)
    detector = VisionLLMShapesDetector(
        str(config), checkpoint, clip_view=dict(type='DynamicTiling', tile_size=64, max_tiles=4))
    assert detector.prompt.startswith('Please detect the following objects in the image: person, ')
    (det, ) = detector([_render(SCENES[0])])
    n = len(det['scores'])
    assert n > 0 and det['bboxes'].shape == (n, 4)
    assert set(
        det['labels'].tolist()) <= {CATEGORY_NAMES.index('circle'),
                                    CATEGORY_NAMES.index('star')}
    metric = ShapesGenEvalMetric(detector=detector)
    metric.process({}, _gen_samples([_render(SCENES[0])], [_caption(SCENES[0])]))
    assert 0.0 <= metric.evaluate(1)['geneval/accuracy'] <= 1.0
