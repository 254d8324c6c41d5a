"""A toy regression model and dataset for the runner/tool tests (y = 3x - 1 plus noise)."""
import random
import time
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn

from mmvisionllm.registry import DATASETS, HOOKS, METRICS, MODELS


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    """``y = w x + b`` fitted with MSE.

    Args:
        input_noise (float): Std of gaussian noise added to the inputs in training, drawn from
            torch's global generator (stands in for the decoders' denoising/diffusion noise).
    """

    def __init__(self, input_noise: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(1, 1)
        self.input_noise = input_noise

    def forward(self,
                inputs: torch.Tensor,
                targets: torch.Tensor,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], List[dict], torch.Tensor]:
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        targets = torch.stack(targets) if isinstance(targets, list) else targets
        if mode == 'loss' and self.input_noise:
            inputs = inputs + self.input_noise * torch.randn_like(inputs)
        preds = self.linear(inputs)
        if mode == 'loss':
            return dict(loss_mse=((preds - targets)**2).mean())
        if mode == 'predict':
            return [dict(pred=p, target=t) for p, t in zip(preds, targets)]
        return preds


@DATASETS.register_module(force=True)
class ToyRegressionDataset(BaseDataset):
    """``num_samples`` points of ``y = 3x - 1 + noise`` from a fixed seed.

    ``jitter`` > 0 adds a random offset to each drawn input from numpy's and python's global
    generators (a random augmentation; in the main process when ``num_workers=0``).
    """

    def __init__(self,
                 num_samples: int = 32,
                 seed: int = 0,
                 jitter: float = 0.0,
                 delay: float = 0.0,
                 **kwargs) -> None:
        self.delay = delay  # seconds of sleep per drawn sample (a slow pipeline)
        self.num_samples = num_samples
        self.seed = seed
        self.jitter = jitter
        super().__init__(serialize_data=False, **kwargs)

    def load_data_list(self) -> List[dict]:
        gen = torch.Generator().manual_seed(self.seed)
        xs = torch.rand(self.num_samples, 1, generator=gen) * 2 - 1
        ys = 3 * xs - 1 + 0.01 * torch.randn(self.num_samples, 1, generator=gen)
        return [dict(inputs=x, targets=y) for x, y in zip(xs, ys)]

    def prepare_data(self, idx: int) -> dict:
        if self.delay:
            time.sleep(self.delay)
        info = self.get_data_info(idx)
        inputs = info['inputs']
        if self.jitter:
            offset = np.random.uniform(-self.jitter, self.jitter) + random.gauss(0, self.jitter)
            inputs = inputs + float(offset)
        return dict(inputs=inputs, targets=info['targets'])


@METRICS.register_module(force=True)
class ToyMSEMetric(BaseMetric):
    """Mean squared error of the predictions."""

    def process(self, data_batch: Optional[dict], data_samples: List[dict]) -> None:
        self.results.extend(float((s['pred'] - s['target']).pow(2).mean()) for s in data_samples)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        return dict(mse=sum(results) / len(results))


class SimulatedKill(RuntimeError):
    """Raised by :class:`SimulatedKillHook` to stop training as a killed job would."""


@HOOKS.register_module(force=True)
class SimulatedKillHook(Hook):
    """Stops training right after the checkpoint of epoch ``kill_after_epoch`` (or iteration
    ``kill_after_iter``) was written."""
    priority = 'LOWEST'  # after CheckpointHook

    def __init__(self,
                 kill_after_epoch: Optional[int] = None,
                 kill_after_iter: Optional[int] = None) -> None:
        self.kill_after_epoch = kill_after_epoch
        self.kill_after_iter = kill_after_iter

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.kill_after_iter is not None and runner.iter + 1 == self.kill_after_iter:
            raise SimulatedKill(f'simulated kill after iteration {self.kill_after_iter}')

    def after_train_epoch(self, runner) -> None:
        if self.kill_after_epoch is not None and runner.epoch + 1 == self.kill_after_epoch:
            raise SimulatedKill(f'simulated kill after epoch {self.kill_after_epoch}')
