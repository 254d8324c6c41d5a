"""``VisionLLMInferencer``: build a VisionLLMv2 from a config (+ checkpoint) and chat with it.

Reuses mmengine's ``Config`` (``_base_`` inheritance and ``custom_imports``, so plugin decoders
load), ``load_checkpoint`` and mmcv's ``imread``; the conversation itself is
:func:`mmvisionllm.apis.chat`.
"""
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from mmvisionllm.registry import INFERENCERS, MODELS
from .chat import ChatReply, chat

__all__ = ['VisionLLMInferencer']


@INFERENCERS.register_module()
class VisionLLMInferencer:
    """Chat with a VisionLLMv2.

    Args:
        config (str | Config | dict): A config file, a loaded config or a model config dict.
        checkpoint (str, optional): A local mmengine checkpoint of the model.
        device (str): Device to run on. Defaults to ``'cpu'``.

    Example:
        >>> inferencer = VisionLLMInferencer('configs/visionllmv2/<config>.py',
        'work_dirs/x/iter_N.pth')
        >>> reply = inferencer('demo.png', 'Please detect circle, square in the image.')[0]
        >>> reply.text, [(l.routing_token, l.target_name, l.prediction) for l in reply.links]
    """

    def __init__(self,
                 config: Union[str, Config, dict],
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu') -> None:
        from mmvisionllm.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        if isinstance(config, str):
            config = Config.fromfile(config)
        model_cfg = config['model'] if 'model' in config and 'type' not in config else config
        self.model = MODELS.build(model_cfg)
        if checkpoint is not None:
            from mmengine.runner import load_checkpoint
            load_checkpoint(self.model, checkpoint, map_location='cpu')
        self.model.to(torch.device(device)).eval()

    def __call__(self,
                 image: Optional[Union[str, np.ndarray, dict]],
                 messages: Union[str, Sequence],
                 regions: Sequence = (),
                 metainfo: Optional[dict] = None) -> List[ChatReply]:
        """Answer ``messages`` about ``image`` (a path, an RGB array, packed inputs or None).

        Returns:
            list[ChatReply]: One per answered human turn (text + per-routing-token outputs).
        """
        if isinstance(image, str):
            import mmcv
            image = mmcv.imread(image, channel_order='rgb')
        return chat(self.model, image, messages, regions=regions, metainfo=metainfo)
