"""Every ShapesWorld task goes through the real data pipeline and the core: loss and prediction."""
import copy
import os.path as osp

import pytest
import torch
from mllm_builders import REPO_ROOT, TINY_CONFIG
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmvisionllm.registry import DATASETS, MODELS

TASKS_CONFIG = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'shapesworld_tasks.py')
TASKS = ('det', 'seg', 'grd', 'pose', 'vqa', 'caption', 'region', 'gen', 'edit')
GROUP_OF = dict(det='det', seg='det', grd='det', pose='pose', gen='gen', edit='edit')


@pytest.fixture(scope='module')
def shapesworld(tmp_path_factory):
    from mmvisionllm.datasets.shapesworld import generate_shapesworld
    root = str(tmp_path_factory.mktemp('shapesworld'))
    generate_shapesworld(root, seed=0, num_train=12, num_val=2, overwrite=True, show_progress=False)
    return root


@pytest.fixture(scope='module')
def model(shapesworld):
    torch.manual_seed(0)
    cfg = Config.fromfile(TINY_CONFIG).model.to_dict()
    cfg['llm']['tokenizer_path'] = osp.join(shapesworld, 'tokenizer')
    cfg['llm']['config'].update(hidden_size=64, intermediate_size=128, num_hidden_layers=2)
    cfg['max_new_tokens'] = 4
    cfg['decoders'] = dict(
        det=dict(type='ToyPointLinkDecoder', routing_tokens=('[DET]', '[SEG]', '[GRD]')),
        pose=dict(type='ToyPointLinkDecoder', routing_tokens=('[POSE]', )),
        gen=dict(type='ToyPointLinkDecoder', routing_tokens=('[GEN]', ), num_queries=3),
        edit=dict(type='ToyPointLinkDecoder', routing_tokens=('[EDIT]', ), num_queries=3))
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def tasks_cfg():
    return Config.fromfile(TASKS_CONFIG)


@pytest.mark.parametrize('task', TASKS)
def test_task_batch_trains_and_predicts(shapesworld, tasks_cfg, model, task):
    cfg = copy.deepcopy(tasks_cfg[f'shapesworld_{task}_train'])
    cfg['data_root'] = shapesworld + '/'
    dataset = DATASETS.build(cfg)
    batch = pseudo_collate([dataset[0], dataset[1]])
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    model.train()
    losses = model.train_step(batch, optim_wrapper)
    assert torch.isfinite(losses['loss'])
    group = GROUP_OF.get(task)
    if group is None:
        assert set(losses) == {'loss', 'loss_lm'}
    else:
        assert f'loss_{group}_box' in losses
    model.eval()
    predicted = model.test_step(batch)
    for sample in predicted:
        if group is None:
            assert isinstance(sample.metainfo['pred_text'], str)
        else:
            num_targets = len(sample.metainfo['link_tokens'])
            assert num_targets == len(sample.metainfo['target_names'])
            assert sample.pred_instances.bboxes.shape == (num_targets, 4)
