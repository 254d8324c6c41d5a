"""Clear errors: missing checkpoints, routing tokens without decoder, image tasks without image."""
import pytest
import torch
from mllm_builders import build_model, make_sample, random_inputs, tiny_model_cfg

TOY_DET = dict(det=dict(type='ToyPointLinkDecoder'))


@pytest.fixture(scope='module')
def det_model(tokenizer_dir):
    torch.manual_seed(0)
    return build_model(tiny_model_cfg(tokenizer_dir, TOY_DET)).eval()


@pytest.mark.parametrize('key', ['vision_encoder', 'llm', 'tokenizer'])
def test_missing_checkpoint_path_names_the_config_key(tokenizer_dir, tmp_path, key):
    cfg = tiny_model_cfg(tokenizer_dir)
    missing = str(tmp_path / 'no-such-checkpoint')
    if key == 'vision_encoder':
        cfg['vision_encoder'] = dict(type='CLIPVisionEncoder', pretrained_path=missing)
        expected = 'vision_encoder.pretrained_path'
    elif key == 'llm':
        cfg['llm'] = dict(type='HFCausalLM', pretrained_path=missing)
        expected = 'llm.pretrained_path'
    else:
        cfg['llm']['tokenizer_path'] = missing
        expected = 'llm.tokenizer_path'
    with pytest.raises(FileNotFoundError) as error:
        build_model(cfg)
    assert expected in str(error.value) and missing in str(error.value)


def test_decoder_in_channels_must_match_llm_width(tokenizer_dir):
    with pytest.raises(ValueError, match='in_channels=7'):
        build_model(
            tiny_model_cfg(tokenizer_dir,
                           dict(det=dict(type='ToyPointLinkDecoder', in_channels=7))))


def test_prompt_with_unregistered_routing_token(det_model):
    sample = make_sample('pose', '<image>\nfind the keypoints of the person .',
                         'person [POSE] head [POSE]', ['person', 'head'])
    with pytest.raises(ValueError, match=r'\[POSE\] has no registered decoder'):
        det_model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]))


def test_emitted_unregistered_routing_token(det_model):
    pose_id = det_model.tokenizer.convert_tokens_to_ids('[POSE]')

    def always_pose(module, args, logits):  # make the LLM's first reply token [POSE]
        logits = logits.clone()
        logits[..., pose_id] += 1e4
        return logits

    handle = det_model.llm.model.get_output_embeddings().register_forward_hook(always_pose)
    det_model.predict_mode = 'chat'
    try:
        sample = make_sample('vqa', '<image>\nwhat colour is the circle ?', 'red')
        data = det_model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]))
        with pytest.raises(ValueError, match=r'\[POSE\] has no registered decoder'):
            det_model(**data, mode='predict')
    finally:
        handle.remove()
        det_model.predict_mode = 'teacher_forced'


def test_image_task_without_image(det_model):
    no_image = random_inputs(1, with_image=False)
    sample = make_sample('det', 'detect all objects .', 'circle [DET]', ['circle'])
    with pytest.raises(ValueError, match=r'\[DET\] calls a decoder that needs an image'):
        det_model.data_preprocessor(dict(inputs=no_image, data_samples=[sample]))
    sample = make_sample('det', '<image>\ndetect all objects .', 'circle [DET]', ['circle'])
    with pytest.raises(ValueError, match='no image'):
        det_model.data_preprocessor(dict(inputs=no_image, data_samples=[sample]))
    sample = make_sample('vqa', 'what colour is the circle ?', 'red')
    with pytest.raises(ValueError, match='no <image>'):
        det_model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]))


def test_text_only_sample_is_fine(det_model):
    sample = make_sample('chat', 'what is a circle ?', 'an object')
    data = det_model.data_preprocessor(
        dict(inputs=random_inputs(1, with_image=False), data_samples=[sample]))
    losses = det_model(**data, mode='loss')
    assert set(losses) == {'loss_lm'} and torch.isfinite(losses['loss_lm'])


@pytest.mark.parametrize(
    'answer, names, task',
    [
        ('circle , square [DET]', ['circle', 'square'], 'det'),  # one routing token removed
        ('circle [DET] [DET] , square [DET]', ['circle', 'square'], 'det'),  # one extra
        ('a red circle [DET]', [], 'region'),  # [DET] inside a region answer
    ])
def test_routing_tokens_must_pair_with_target_names(det_model, answer, names, task):
    """A missing/extra token misaligned every later link with target_names; a routing token in a
    sample without targets crashed with "'InstanceData' object has no attribute 'labels'"."""
    sample = make_sample(
        task,
        '<image>\ndetect all objects .',
        answer,
        names,
        boxes=[[1, 2, 10, 12], [20, 20, 40, 40]][:len(names)],
        labels=list(range(len(names))))
    data = det_model.data_preprocessor(dict(inputs=random_inputs(1), data_samples=[sample]))
    pattern = f"task '{task}'.* routing token.* but {len(names)} target"
    with pytest.raises(ValueError, match=pattern):
        det_model(**data, mode='loss')
