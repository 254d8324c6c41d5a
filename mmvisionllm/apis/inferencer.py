"""``VisionLLMInferencer``: build a VisionLLMv2 from a config (+ checkpoint) and talk to it about
images, with the conventions of mmdet's ``DetInferencer``.

Reused: mmengine's ``Config`` (``_base_`` inheritance and ``custom_imports``, so plugin decoders
load) and ``load_checkpoint``; the config's own **test pipeline**
(CLIP tiling, decoder view, packing — the transforms the model was tested with) with its loading
step replaced by mmdet's ``LoadImageFromNDArray``, as ``DetInferencer`` does for arrays (mmengine's
``Compose`` runs it); the
conversation is :func:`mmvisionllm.apis.chat`; pictures are :class:`VisionLLMVisualizer`'s.
mmengine's ``BaseInferencer`` is not the base class: its ``forward`` is one batched
``test_step``, while a chat reply is generated turn by turn over one KV cache per image and the
decoders run on what the model chose to emit; the call follows ``DetInferencer``'s arguments
(``batch_size``, ``pred_score_thr``, ``return_vis``, ``out_dir``, ``no_save_vis``,
``no_save_pred``, ``return_datasamples``) and its return value ``dict(predictions=...,
visualization=...)``.

Images are read by :mod:`mmvisionllm.apis.image_inputs` (every mode and size; clear errors naming
the file); arrays are **RGB** (the chat API's convention; mmdet's arrays are BGR).
"""
import copy
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log

from mmvisionllm.registry import INFERENCERS, MODELS
from .chat import ChatReply, chat
from .image_inputs import IMAGE_EXTENSIONS, ImageInputError, load_image_input

__all__ = ['VisionLLMInferencer', 'chat_pipeline']

InputType = Union[str, np.ndarray, torch.Tensor, None]
# transforms of a test pipeline that read annotations: not part of the chat pipeline
_ANNOTATION_TRANSFORMS = ('LoadMultimodalAnnotations', 'LoadRegionPrompts', 'LoadTargetImage',
                          'LoadAnnotations', 'mmdet.LoadAnnotations')
_LOADING_TRANSFORMS = ('LoadImageFromFile', 'mmcv.LoadImageFromFile', 'LoadOptionalImageFromFile',
                       'mmdet.LoadImageFromNDArray')
# the decoder view when a config has no image test pipeline (mmdet's usual test scale)
DEFAULT_DECODER_VIEW = dict(type='ResizeWithKeypoints', scale=(1333, 800), keep_ratio=True)


def _test_datasets(cfg) -> List[dict]:
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    dataset = loader.get('dataset') or {}
    return list(dataset.get('datasets', [dataset])) if dataset else []


def chat_pipeline(cfg, tile_size: int) -> List[dict]:
    """The pipeline the inferencer runs on an image: the config's ``chat_pipeline`` if it has
    one, else the first test dataset pipeline that tiles an image, without its annotation
    loaders, with the dataset's ``transform_overrides`` applied and its loading step replaced by
    ``mmdet.LoadImageFromNDArray``. A config without one gets the tiling of the model's tile
    size (one tile) and :data:`DEFAULT_DECODER_VIEW`."""
    pipeline = copy.deepcopy(cfg.get('chat_pipeline')) if cfg.get('chat_pipeline') else None
    if pipeline is None:
        loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
        overrides = (loader.get('dataset') or {}).get('transform_overrides') or {}
        for dataset in _test_datasets(cfg):
            steps = dataset.get('pipeline') or []
            if any(isinstance(t, dict) and t.get('type') == 'DynamicTiling' for t in steps):
                pipeline = [
                    copy.deepcopy(dict(t)) for t in steps
                    if t.get('type') not in _ANNOTATION_TRANSFORMS
                ]
                for step in pipeline:
                    step.update(overrides.get(step['type'], {}))
                break
    if pipeline is None:
        pipeline = [
            dict(type='DynamicTiling', tile_size=tile_size, max_tiles=1), DEFAULT_DECODER_VIEW,
            dict(type='PackMultimodalInputs')
        ]
    pipeline = [t for t in pipeline if t.get('type') not in _LOADING_TRANSFORMS]
    return [dict(type='mmdet.LoadImageFromNDArray')] + pipeline


def _pose_metainfo(cfg) -> Optional[dict]:
    for dataset in _test_datasets(cfg):
        meta = dataset.get('metainfo') or {}
        if meta.get('from_file') and osp.isfile(meta['from_file']):
            return dict(from_file=meta['from_file'])
    return None


def _jsonable_instances(instances, score_thr: float) -> dict:
    from pycocotools import mask as mask_utils
    if 'scores' in instances and len(instances):
        scores = instances.scores
        keep = (scores >= score_thr) if torch.is_tensor(scores) else np.asarray(scores) >= score_thr
        instances = instances[keep]
    out = {}
    for key in ('bboxes', 'scores', 'labels', 'keypoints', 'keypoint_scores'):
        if key in instances:
            value = instances.get(key)
            value = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
            out[key] = np.round(value.astype(np.float64), 2).tolist() if key != 'labels' else \
                value.astype(int).tolist()
    if 'masks' in instances:
        masks = instances.masks
        masks = masks.detach().cpu().numpy() if torch.is_tensor(masks) else np.asarray(masks)
        out['masks'] = []
        for mask in masks.astype(np.uint8):
            rle = mask_utils.encode(np.asfortranarray(mask))
            out['masks'].append(dict(size=rle['size'], counts=rle['counts'].decode()))
    return out


def reply_to_dict(reply: ChatReply, prompt: str, score_thr: float) -> dict:
    """A JSON-ready record of one answered turn (generated images as uint8 [H, W, 3] arrays
    under ``image``; ``out_dir`` writes them as files)."""
    from mmvisionllm.visualization import to_rgb_array
    outputs = []
    for link in reply.links:
        item = dict(
            routing_token=link.routing_token, decoder=link.group, target_name=link.target_name)
        if link.error:
            item['error'] = link.error
        elif link.prediction is not None:
            image = getattr(link.prediction, 'pred_image', None)
            if image is not None:
                item['image'] = to_rgb_array(image)
            elif hasattr(link.prediction, 'bboxes') or hasattr(link.prediction, 'keypoints'):
                item.update(_jsonable_instances(link.prediction, score_thr))
        outputs.append(item)
    return dict(
        prompt=prompt,
        answer=reply.text,
        decoders=sorted({link.group
                         for link in reply.links}),
        outputs=outputs)


@INFERENCERS.register_module()
class VisionLLMInferencer:
    """Talk to a VisionLLMv2 about images (``DetInferencer``'s conventions).

    Args:
        config (str | Config | dict): A config file, a loaded config or a model config dict.
        checkpoint (str, optional): A local mmengine checkpoint of the model.
        device (str): Device to run on. Defaults to ``'cpu'``.
        visualizer (dict, optional): Arguments of :class:`VisionLLMVisualizer`.

    Example:
        >>> inferencer = VisionLLMInferencer('configs/visionllmv2/<config>.py',
        ...                                  'work_dirs/x/iter_N.pth')
        >>> result = inferencer('photo.jpg', 'Please detect circle, square in the image.',
        ...                     out_dir='outputs')
        >>> result['predictions'][0]['turns'][0]['answer']
    """

    def __init__(self,
                 config: Union[str, Config, dict],
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu',
                 visualizer: Optional[dict] = None) -> None:
        from mmvisionllm.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        if isinstance(config, str):
            if not osp.isfile(config):
                raise FileNotFoundError(f'config {config!r} does not exist')
            config = Config.fromfile(config)
        is_model_cfg = 'type' in config and 'model' not in config
        self.cfg = Config(dict(model=config)) if is_model_cfg else config
        model_cfg = config if is_model_cfg else config['model']
        self.model = MODELS.build(model_cfg)
        if checkpoint is not None:
            if not osp.isfile(checkpoint):
                raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
            from mmengine.runner import load_checkpoint
            load_checkpoint(self.model, checkpoint, map_location='cpu')
        else:
            # without weights, the config's own initialisation (what training starts from), as
            # MODELS.build alone leaves parameters that mmdet initialises in init_weights unset
            print_log(
                'no checkpoint: the model keeps the random initialisation of its config',
                logger='current',
                level=logging.WARNING)
            self.model.init_weights()
        self.model.to(torch.device(device)).eval()
        from mmengine.registry import DefaultScope

        from mmvisionllm.registry import TRANSFORMS
        steps = chat_pipeline(self.cfg, self.model.vision_encoder.image_size)
        with DefaultScope.overwrite_default_scope('mmvisionllm'):
            self.pipeline = Compose([TRANSFORMS.build(t) for t in steps])
        self.pipeline_cfg = steps
        self._visualizer_cfg = dict(visualizer or {})
        self._visualizer = None

    @property
    def visualizer(self):
        """The :class:`VisionLLMVisualizer` (built on first use)."""
        if self._visualizer is None:
            from mmvisionllm.visualization import VisionLLMVisualizer
            cfg = dict(self._visualizer_cfg)
            cfg.setdefault('pose_metainfo', _pose_metainfo(self.cfg))
            cfg.setdefault('name', f'inferencer_{id(self)}')
            self._visualizer = VisionLLMVisualizer(**cfg)
        return self._visualizer

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _inputs_to_list(inputs) -> List[InputType]:
        """A path, a folder (its images, sorted), an array, None, or a list of them."""
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        expanded: List[InputType] = []
        for item in inputs:
            if isinstance(item, str) and osp.isdir(item):
                files = sorted(
                    osp.join(item, f) for f in os.listdir(item)
                    if f.lower().endswith(IMAGE_EXTENSIONS))
                if not files:
                    raise ImageInputError(f'folder {item!r} holds no image file '
                                          f'({", ".join(IMAGE_EXTENSIONS)})')
                expanded.extend(files)
            else:
                expanded.append(item)
        return expanded

    def preprocess(self, image: InputType, regions: Sequence = ()) -> Optional[dict]:
        """One input -> ``dict(inputs=..., data_samples=...)`` from the test pipeline (None for
        a text-only / text-to-image conversation)."""
        if image is None:
            return None
        if isinstance(image, dict):  # already packed (clip tiles + decoder view)
            return dict(inputs=image, data_samples=None)
        name = image if isinstance(image, str) else 'image array'
        rgb = load_image_input(image)
        data = self.pipeline(dict(img=np.ascontiguousarray(rgb[..., ::-1])))  # mmcv's BGR
        data['rgb'] = rgb
        data['name'] = name
        self._check_regions(regions, rgb.shape[:2], name)
        return data

    @staticmethod
    def _check_regions(regions: Sequence, shape, name: str) -> None:
        height, width = shape
        for k, region in enumerate(regions):
            region = np.asarray(region.cpu() if torch.is_tensor(region) else region)
            if region.ndim == 1:
                if region.shape != (4, ) or not np.isfinite(region.astype(float)).all():
                    raise ValueError(f'region prompt {k + 1}: a box is 4 numbers x1, y1, x2, y2, '
                                     f'got {region.tolist()}')
                x1, y1, x2, y2 = region.astype(float).tolist()
                if not (x2 > x1 and y2 > y1 and x2 > 0 and y2 > 0 and x1 < width and y1 < height):
                    raise ValueError(f'region prompt {k + 1}: box {[x1, y1, x2, y2]} covers no '
                                     f'pixel of the {width}x{height} image {name}')
            elif region.shape != (height, width):
                raise ValueError(f'region prompt {k + 1}: a mask must be [H, W] = '
                                 f'{[height, width]} of image {name}, got {list(region.shape)}')
            elif not region.any():
                raise ValueError(f'region prompt {k + 1}: the mask is empty')

    @staticmethod
    def _messages(prompts: Union[str, Sequence], num_regions: int) -> List[Union[str, dict]]:
        messages = [prompts] if isinstance(prompts, str) else list(prompts)
        humans = [
            m if isinstance(m, str) else m.get('value', '') for m in messages
            if isinstance(m, str) or m.get('from') == 'human'
        ]
        if not humans or any(not h.replace('<image>', '').strip() for h in humans):
            raise ValueError('empty prompt: give the model a question or an instruction')
        placeholders = sum(h.count('<region>') for h in humans)
        if placeholders != num_regions:
            raise ValueError(f'the prompt has {placeholders} <region> placeholders but '
                             f'{num_regions} region prompts were given')
        return messages

    # ------------------------------------------------------------------ running
    def chat(self,
             image: Union[InputType, dict],
             messages: Union[str, Sequence],
             regions: Sequence = (),
             metainfo: Optional[dict] = None) -> List[ChatReply]:
        """Answer ``messages`` about one image (a path, an RGB array, packed inputs or None).

        Returns:
            list[ChatReply]: One per answered human turn (text + per-routing-token outputs).
        """
        data = self.preprocess(image, regions)
        messages = self._messages(messages, len(regions))
        packed, meta = None, dict(metainfo or {})
        if data is not None:
            packed = data['inputs']
            if data.get('data_samples') is not None:
                sample_meta = data['data_samples'].metainfo
                for key in ('ori_shape', 'img_shape', 'scale_factor', 'clip_grid'):
                    if key in sample_meta:
                        meta.setdefault(key, sample_meta[key])
        regions = [
            torch.as_tensor(np.asarray(r, dtype=np.float32))
            if np.asarray(r).ndim == 1 else torch.as_tensor(np.asarray(r, dtype=bool))
            for r in regions
        ]
        return chat(self.model, packed, messages, regions=regions, metainfo=meta)

    def __call__(self,
                 inputs,
                 prompts: Union[str, Sequence],
                 regions: Sequence = (),
                 batch_size: int = 1,
                 pred_score_thr: float = 0.3,
                 return_vis: bool = False,
                 show: bool = False,
                 out_dir: str = '',
                 no_save_vis: bool = False,
                 no_save_pred: bool = False,
                 return_datasamples: bool = False,
                 print_result: bool = False) -> dict:
        """Answer ``prompts`` about every input.

        Args:
            inputs: A path, a folder (its images), an [H, W, 3] RGB array (other layouts and
                dtypes: :func:`image_array_to_rgb`), None (no image: text only or text-to-image),
                or a list of them.
            prompts (str | Sequence): The conversation asked of every input: one message, or
                several human messages (each answered in turn: a multi-turn chat) and LLaVA turns
                ``{'from': 'human'|'gpt', 'value': ...}`` (given gpt turns are history).
            regions (Sequence): Region prompts for the ``<region>`` placeholders: boxes
                ``[x1, y1, x2, y2]`` or bool masks [H, W], in original-image pixels.
            batch_size (int): Inputs read and run through the test pipeline together; the answers
                are generated one conversation at a time (one KV cache each). Defaults to 1.
            pred_score_thr (float): Boxes / poses scoring less are left out of the predictions
                and the drawings. Defaults to 0.3.
            return_vis (bool): Return the drawings. Defaults to False.
            show (bool): Show the drawings in a window. Defaults to False.
            out_dir (str): When set, write the drawings to ``out_dir/vis/<name>.png`` and the
                predictions to ``out_dir/preds/<name>.json`` (generated images beside them).
            no_save_vis (bool): Do not write the drawings. Defaults to False.
            no_save_pred (bool): Do not write the predictions. Defaults to False.
            return_datasamples (bool): Predictions as :class:`ChatReply` lists instead of dicts.
            print_result (bool): Print the predictions. Defaults to False.

        Returns:
            dict: ``predictions`` (one per input: ``dict(image=..., turns=[dict(prompt, answer,
            decoders, outputs=[dict(routing_token, decoder, target_name, bboxes, scores,
            labels, masks (RLE), keypoints, keypoint_scores | image | error)])])``) and
            ``visualization`` (one [H, W, 3] RGB array per input, or None).
        """
        items = self._inputs_to_list(inputs)
        messages = self._messages(prompts, len(regions))
        humans = [
            m if isinstance(m, str) else m['value'] for m in messages
            if isinstance(m, str) or m.get('from') == 'human'
        ]
        predictions, visualization = [], []
        for start in range(0, len(items), max(1, batch_size)):
            chunk = items[start:start + max(1, batch_size)]
            # a chunk is read and run through the pipeline together; the answers are generated
            # one conversation at a time
            datas = [self.preprocess(item, regions) for item in chunk]
            for offset, (item, data) in enumerate(zip(chunk, datas)):
                index = start + offset
                replies = self.chat(
                    item if data is None else dict(data['inputs']), messages, regions,
                    self._meta(data))
                name = self._name(item, index)
                record = dict(
                    image=item if isinstance(item, str) else None,
                    name=name,
                    image_size=None if data is None else list(data['rgb'].shape[:2]),
                    turns=[
                        reply_to_dict(r, p, pred_score_thr)
                        for r, p in zip(replies, humans[-len(replies):])
                    ])
                drawn = None
                if return_vis or show or (out_dir and not no_save_vis):
                    drawn = self.draw(None if data is None else data['rgb'], replies, humans,
                                      regions, pred_score_thr)
                    if show:
                        self.visualizer.show(drawn, win_name=name)
                if out_dir:
                    self._save(out_dir, name, record, drawn, no_save_vis, no_save_pred)
                if print_result:
                    print(json.dumps(_without_arrays(record), indent=1))
                predictions.append(replies if return_datasamples else record)
                visualization.append(drawn if return_vis else None)
        return dict(predictions=predictions, visualization=visualization if return_vis else None)

    @staticmethod
    def _meta(data: Optional[dict]) -> dict:
        if data is None or data.get('data_samples') is None:
            return {}
        meta = data['data_samples'].metainfo
        return {
            k: meta[k]
            for k in ('ori_shape', 'img_shape', 'scale_factor', 'clip_grid') if k in meta
        }

    @staticmethod
    def _name(item: InputType, index: int) -> str:
        if isinstance(item, str):
            return osp.splitext(osp.basename(item))[0]
        return f'{index:08d}'

    def draw(self,
             image: Optional[np.ndarray],
             replies: Sequence[ChatReply],
             humans: Sequence[str],
             regions: Sequence = (),
             pred_score_thr: float = 0.3) -> np.ndarray:
        """The picture of a conversation: input + region prompts, each reply's decoder outputs,
        the conversation text with the decoders the model chose."""
        outputs: Dict[str, object] = {}
        lines: List[str] = []
        humans = list(humans)[-len(replies):] if replies else []
        for turn, (reply, human) in enumerate(zip(replies, humans)):
            lines.append(f'user: {human.replace("<image>", "").strip()}')
            lines.append(f'model: {reply.text}')
            groups = sorted({link.group for link in reply.links})
            lines.append('decoder: ' + (', '.join(groups) if groups else 'none (text answer)'))
            for group, sample in reply.decoder_outputs.items():
                outputs[f'{group} (turn {turn + 1})' if len(replies) > 1 else group] = sample
        return self.visualizer.draw_reply(image, outputs, lines, regions, pred_score_thr)

    @staticmethod
    def _save(out_dir: str, name: str, record: dict, drawn: Optional[np.ndarray], no_save_vis: bool,
              no_save_pred: bool) -> None:
        if drawn is not None and not no_save_vis:
            mmcv.imwrite(drawn[..., ::-1], osp.join(out_dir, 'vis', f'{name}.png'))
        if no_save_pred:
            return
        os.makedirs(osp.join(out_dir, 'preds'), exist_ok=True)
        for t, turn in enumerate(record['turns']):
            for k, output in enumerate(turn['outputs']):
                if isinstance(output.get('image'), np.ndarray):
                    path = osp.join(out_dir, 'preds', f'{name}_turn{t + 1}_{k}.png')
                    mmcv.imwrite(output['image'][..., ::-1], path)
                    output['image_file'] = path
        with open(osp.join(out_dir, 'preds', f'{name}.json'), 'w') as f:
            json.dump(_without_arrays(record), f, indent=1)


def _without_arrays(record: dict) -> dict:
    """A copy of a prediction record without its image arrays (for JSON)."""
    out = dict(record, turns=[])
    for turn in record['turns']:
        out['turns'].append(
            dict(
                turn,
                outputs=[{
                    k: v
                    for k, v in o.items() if k != 'image'
                } for o in turn['outputs']]))
    return out
