"""``chat(model, image, messages)``: free-running conversation with live routing to the decoders.

Reuses VisionLLMv2's own pieces (data preprocessor normalisation, conversation tokenizer, the
link-aware greedy generator and the decoders' ``predict``); this module only turns user-facing
inputs (an RGB array or packed tensors, plain strings) into them and collects the results per
routing token.

Image preparation: pass ``image`` as the dict a data pipeline packs (``dict(clip=uint8 [T,3,S,S]
tiles with the thumbnail last, image=uint8 [3,H,W] decoder view)``) to get the training-time tiling;
a plain ``H x W x 3`` uint8 RGB array is used as a single thumbnail tile (the whole image resized to
S x S) and as the decoder view.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmvisionllm.structures import MMDataSample

__all__ = ['chat', 'ChatReply', 'LinkOutput', 'prepare_image']


@dataclass
class LinkOutput:
    """What one emitted routing token produced.

    Attributes:
        routing_token (str): E.g. ``'[DET]'``.
        group (str): The decoder group.
        target_name (str): The text the token followed, e.g. ``'circle'``.
        target_index (int): Index of this target among its group's targets in the reply.
        prediction: The decoder output for this target: the ``pred_instances`` rows whose ``labels``
            equal ``target_index`` when the decoder fills labelled instances, else the whole filled
            data sample (e.g. with ``pred_image``); None when the decoder could not read the
            emitted targets.
        error (str, optional): Why the decoder could not read the targets the answer emitted
            (``BaseLinkDecoder.emitted_targets_error``), e.g. a pose object without keypoints.
    """

    routing_token: str
    group: str
    target_name: str
    target_index: int
    prediction: object = None
    error: Optional[str] = None


@dataclass
class ChatReply:
    """One generated answer: its text and the decoder outputs of its routing tokens."""

    text: str
    links: List[LinkOutput] = field(default_factory=list)
    decoder_outputs: Dict[str, MMDataSample] = field(default_factory=dict)


def prepare_image(image: Union[np.ndarray, Tensor], tile_size: int) -> dict:
    """An RGB image -> packed inputs with one thumbnail tile.

    Args:
        image (np.ndarray | Tensor): [H, W, 3] uint8 RGB.
        tile_size (int): CLIP tile side S.

    Returns:
        dict: ``clip`` uint8 [1, 3, S, S], ``image`` uint8 [3, H, W].
    """
    view = torch.as_tensor(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()
    thumbnail = F.interpolate(
        view[None].float(),
        size=(tile_size, tile_size),
        mode='bilinear',
        align_corners=False,
        antialias=True)
    return dict(clip=thumbnail.round().clamp(0, 255).to(torch.uint8), image=view)


def _conversation(messages: Union[str, Sequence], has_image: bool) -> List[dict]:
    if isinstance(messages, str):
        messages = [messages]
    turns = [m if isinstance(m, dict) else {'from': 'human', 'value': m} for m in messages]
    if has_image and turns and '<image>' not in turns[0]['value']:
        turns[0] = dict(turns[0], value='<image>\n' + turns[0]['value'])
    return turns


def _per_target(sample: MMDataSample, index: int):
    instances = sample.get('pred_instances')
    if instances is not None and 'labels' in instances:
        return instances[instances.labels == index]
    return sample


@torch.no_grad()
def chat(model,
         image: Optional[Union[np.ndarray, Tensor, dict]],
         messages: Union[str, Sequence],
         regions: Sequence = (),
         metainfo: Optional[dict] = None) -> List[ChatReply]:
    """Talk to a VisionLLMv2.

    Args:
        model (VisionLLMv2): The model (put in eval mode here).
        image: None (text only), an [H, W, 3] uint8 RGB array, or packed inputs
            ``dict(clip=..., image=...)``.
        messages (str | Sequence): Human messages (strings) or LLaVA turns. Every human turn without
            a following gpt turn is answered, in order, over one KV cache; given gpt turns are
            history. ``<image>\\n`` is put in front of the first message when an image is given and
            it is absent.
        regions (Sequence): Bool masks [H, W] for the ``<region>`` placeholders.
        metainfo (dict, optional): Extra metainfo for the decoders (e.g. ``ori_shape``,
            ``scale_factor`` when ``image`` is a packed decoder view of a resized image).

    Returns:
        list[ChatReply]: One per answered human turn.
    """
    model.eval()
    device = next(model.parameters()).device
    packed = None
    if image is not None:
        packed = image if isinstance(image, dict) else prepare_image(
            image, model.vision_encoder.image_size)
    conversation = _conversation(messages, packed is not None)
    view = None if packed is None else packed.get('image')
    height, width = (view.shape[-2:] if view is not None else (0, 0))
    meta = dict(
        conversation=conversation,
        regions=list(regions),
        task='chat',
        ori_shape=(height, width),
        img_shape=(height, width),
        scale_factor=(1.0, 1.0))
    meta.update(metainfo or {})
    sample = MMDataSample(metainfo=meta)
    tiles = None if packed is None else model.data_preprocessor.normalize_tiles(
        packed['clip'].to(device))
    image_tokens, region_tokens = model.encode_images([tiles], [sample])
    turns = model.conversation_tokenizer.encode_turns(conversation,
                                                      0 if tiles is None else tiles.shape[0])
    replies = []
    for generated in model.generate_turns(turns, image_tokens[0], region_tokens[0]):
        reply = ChatReply(text=generated.text)
        if generated.links:
            reply.decoder_outputs = model.decode_links(
                generated.links,
                sample,
                None if view is None else view.to(device),
                copy_per_group=True)
            counters: Dict[str, int] = {}
            for link in generated.links:
                index = counters.get(link.group, 0)
                counters[link.group] = index + 1
                output = reply.decoder_outputs[link.group]
                error = output.metainfo.get('decoder_error')
                reply.links.append(
                    LinkOutput(
                        routing_token=link.routing_token,
                        group=link.group,
                        target_name=link.target_name,
                        target_index=index,
                        prediction=None if error else _per_target(output, index),
                        error=error))
        replies.append(reply)
    return replies
