"""ShapesWorld generator: reproducibility, file layout, geometry and the tokenizer."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
from mmengine import Config
from transformers import AutoTokenizer

from mmvisionllm.datasets.instruction_templates import (TASK_INSTRUCTIONS, all_template_texts,
                                                        format_instruction)
from mmvisionllm.datasets.shapesworld import generate_shapesworld, render_scene, sample_scene
from mmvisionllm.datasets.shapesworld.generator import STAMP_FILE
from mmvisionllm.datasets.shapesworld.world_spec import (JOINT_WEIGHTS, KEYPOINT_NAMES,
                                                         KEYPOINT_SIGMAS, SKELETON)
from .conftest import DATASET_CONFIG_DIR, load_json

EXPECTED_ANNOTATIONS = [
    f'{name}_{split}.json' for split in ('train', 'val')
    for name in ('instances', 'person_keypoints', 'refexp', 'captions', 'region', 't2i', 'edit')
] + [
    f'vqa_{split}_{kind}.json' for split in ('train', 'val')
    for kind in ('questions', 'annotations')
]


def file_digests(root: Path) -> dict:
    """Relative path → sha256 of every file below ``root``."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob('*')) if path.is_file()
    }


def test_writes_the_documented_layout(shapesworld_root):
    annotation_dir = shapesworld_root / 'annotations'
    assert sorted(p.name for p in annotation_dir.iterdir()) == sorted(EXPECTED_ANNOTATIONS)
    assert len(list((shapesworld_root / 'images' / 'train').glob('*.png'))) == 12
    assert len(list((shapesworld_root / 'images' / 'val').glob('*.png'))) == 6
    assert (shapesworld_root / 'images' / 'train' / '000000.png').is_file()
    edits = load_json(annotation_dir / 'edit_val.json')
    for edit in edits:
        assert edit['target'] == f'edit_val/{edit["image_id"]:06d}_target.png'
        assert (shapesworld_root / 'images' / edit['target']).is_file()
        assert (shapesworld_root / 'images' / edit['source']).is_file()
    assert (shapesworld_root / 'tokenizer' / 'tokenizer.json').is_file()


def test_same_seed_is_byte_identical_and_other_seed_differs(shapesworld_root, tmp_path):
    again = tmp_path / 'again'
    other = tmp_path / 'other'
    generate_shapesworld(str(again), seed=0, num_train=12, num_val=6, show_progress=False)
    generate_shapesworld(str(other), seed=1, num_train=12, num_val=6, show_progress=False)
    reference = file_digests(shapesworld_root)
    assert file_digests(again) == reference
    other_digests = file_digests(other)
    assert set(other_digests) - set(reference) <= {
        p
        for p in other_digests if p.startswith('images/edit_')
    }
    changed = [p for p in reference if other_digests.get(p) != reference[p]]
    assert 'images/train/000000.png' in changed
    assert 'annotations/instances_train.json' in changed
    assert 'annotations/vqa_val_questions.json' in changed


def test_refuses_to_mix_with_an_existing_output(shapesworld_root):
    with pytest.raises(FileExistsError, match='overwrite'):
        generate_shapesworld(str(shapesworld_root), num_train=1, num_val=1, show_progress=False)


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='img_size'):
        generate_shapesworld(str(tmp_path / 'a'), img_size=32, show_progress=False)
    with pytest.raises(ValueError, match='>= 0'):
        generate_shapesworld(str(tmp_path / 'b'), num_train=-1, show_progress=False)


def test_generation_record_goes_only_when_the_output_is_replaced(tmp_path):
    out = tmp_path / 'sw'
    generate_shapesworld(str(out), num_train=2, num_val=1, show_progress=False)
    stamp = out / STAMP_FILE
    stamp.write_text('{"seed": 0}')
    # refused runs leave the output and its record alone
    with pytest.raises(FileExistsError):
        generate_shapesworld(str(out), num_train=2, num_val=1, show_progress=False)
    with pytest.raises(ValueError, match='img_size'):
        generate_shapesworld(str(out), img_size=32, overwrite=True, show_progress=False)
    assert stamp.read_text() == '{"seed": 0}'
    # replacing the output drops the record (the tool writes a new one once generation is done)
    generate_shapesworld(str(out), num_train=2, num_val=1, overwrite=True, show_progress=False)
    assert not stamp.exists()
    assert (out / 'annotations' / 'instances_train.json').is_file()


@pytest.mark.parametrize('img_size', [64, 128, 192])
def test_rendered_objects_are_visible_inside_the_image(img_size):
    for index in range(30):
        scene = sample_scene(np.random.default_rng([7, index]), img_size)
        rendered = render_scene(scene)
        assert 1 <= len(scene.objects) <= 5
        assert rendered.image.shape == (img_size, img_size, 3)
        union = np.zeros((img_size, img_size), dtype=bool)
        for obj, full, visible in zip(scene.objects, rendered.full_masks, rendered.visible_masks):
            assert visible.sum() >= 0.55 * full.sum() > 0, f'{obj} is hidden'
            assert not (visible & union).any(), 'visible masks must not overlap'
            union |= visible
            # Objects never touch the border, so no object is cut by the frame.
            assert not (full[0].any() or full[-1].any() or full[:, 0].any() or full[:, -1].any())


def test_stick_figures_face_the_viewer():
    """Left limbs are on the image's right, so left/right can be told from the picture."""
    index = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
    figures = 0
    for seed in range(60):
        scene = sample_scene(np.random.default_rng([3, seed]), 128)
        rendered = render_scene(scene)
        for obj, keypoints, flags in zip(scene.objects, rendered.keypoints,
                                         rendered.keypoint_visibility):
            if obj.category != 'person':
                continue
            figures += 1
            assert keypoints.shape == (len(KEYPOINT_NAMES), 2)
            assert set(np.unique(flags)) <= {1, 2}
            for part in ('shoulder', 'hand', 'foot'):
                assert keypoints[index[f'left_{part}'], 0] > keypoints[index[f'right_{part}'], 0]
            assert keypoints[index['head'], 1] < keypoints[index['hip'], 1]
    assert figures >= 10


def test_mmpose_keypoint_info_matches_the_world_spec():
    info = Config.fromfile(str(DATASET_CONFIG_DIR / 'shapesworld_keypoint_info.py')).dataset_info
    names = [info.keypoint_info[i]['name'] for i in range(len(info.keypoint_info))]
    assert names == list(KEYPOINT_NAMES)
    assert [tuple(info.skeleton_info[i]['link'])
            for i in range(len(info.skeleton_info))] == list(SKELETON)
    assert info.sigmas == pytest.approx(list(KEYPOINT_SIGMAS))
    assert info.joint_weights == pytest.approx(list(JOINT_WEIGHTS))
    for kpt in info.keypoint_info.values():
        if kpt['swap']:
            assert kpt['swap'] in names and kpt['swap'] != kpt['name']


def all_annotation_texts(root: Path) -> list:
    """Every text of every annotation file of a generated set."""
    texts = []
    for split in ('train', 'val'):
        ann = root / 'annotations'
        texts += [img['caption'] for img in load_json(ann / f'refexp_{split}.json')['images']]
        texts += [
            q['question'] for q in load_json(ann / f'vqa_{split}_questions.json')['questions']
        ]
        texts += [
            a['multiple_choice_answer']
            for a in load_json(ann / f'vqa_{split}_annotations.json')['annotations']
        ]
        texts += [c['caption'] for c in load_json(ann / f'captions_{split}.json')['annotations']]
        texts += [
            turn['value'] for entry in load_json(ann / f'region_{split}.json')
            for turn in entry['conversations']
        ]
        texts += [pair['caption'] for pair in load_json(ann / f't2i_{split}.json')]
        texts += [edit['instruction'] for edit in load_json(ann / f'edit_{split}.json')]
    return texts


def test_tokenizer_reloads_and_covers_every_text(shapesworld_root, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(str(shapesworld_root / 'tokenizer'))
    assert [tokenizer.unk_token, tokenizer.bos_token, tokenizer.eos_token,
            tokenizer.pad_token] == ['<unk>', '<s>', '</s>', '<pad>']
    assert tokenizer.convert_tokens_to_ids(['<unk>', '<s>', '</s>', '<pad>']) == [0, 1, 2, 3]
    ids = tokenizer('<image>\nHow many STARS are there? circle [DET], star [GRD]')['input_ids']
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens == [
        '<image>', 'how', 'many', 'stars', 'are', 'there', '?', 'circle', '[DET]', ',', 'star',
        '[GRD]'
    ]
    # Texts of another seed were never seen by this tokenizer: the closed lexicon must cover them.
    other = tmp_path / 'other'
    generate_shapesworld(str(other), seed=5, num_train=20, num_val=2, show_progress=False)
    texts = all_annotation_texts(shapesworld_root) + all_annotation_texts(other)
    texts += all_template_texts() + [str(n) for n in range(21)]
    fields = dict(
        classes='person, circle',
        expression='the red star',
        category='person',
        keypoints=', '.join(KEYPOINT_NAMES),
        caption='a small blue cross',
        instruction='remove the circle',
        question='is there a red star?')
    for task, phrasings in TASK_INSTRUCTIONS.items():
        texts += [format_instruction(task, i, **fields) for i in range(len(phrasings))]
    unknown = {text for text in texts if tokenizer.unk_token_id in tokenizer(text)['input_ids']}
    assert not unknown, f'texts with unknown words: {sorted(unknown)[:5]}'
    assert tokenizer.unk_token_id in tokenizer('a zebra')['input_ids']


def test_texts_are_true_of_the_scene(shapesworld_root):
    """Spot-check the language: counts match the instances, captions name every object."""
    ann = shapesworld_root / 'annotations'
    instances = load_json(ann / 'instances_val.json')
    names = {c['id']: c['name'] for c in instances['categories']}
    per_image = {}
    for inst in instances['annotations']:
        per_image.setdefault(inst['image_id'], []).append(names[inst['category_id']])
    questions = {
        q['question_id']: q
        for q in load_json(ann / 'vqa_val_questions.json')['questions']
    }
    plurals = {
        'people': 'person',
        'circles': 'circle',
        'squares': 'square',
        'triangles': 'triangle',
        'stars': 'star',
        'crosses': 'cross'
    }
    checked = 0
    for answer in load_json(ann / 'vqa_val_annotations.json')['annotations']:
        question = questions[answer['question_id']]['question']
        objects = per_image[answer['image_id']]
        assert len(answer['answers']) == 10
        assert {a['answer'] for a in answer['answers']} == {answer['multiple_choice_answer']}
        if question == 'how many objects are there?':
            assert answer['multiple_choice_answer'] == str(len(objects))
            checked += 1
        elif question.startswith('how many') and question.split()[2] in plurals:
            expected = objects.count(plurals[question.split()[2]])
            assert answer['multiple_choice_answer'] == str(expected), question
            checked += 1
        elif question.startswith('what shape is'):
            assert answer['multiple_choice_answer'] in objects
            checked += 1
    assert checked >= 3
    captions = load_json(ann / 'captions_val.json')['annotations']
    for caption in captions:
        for name in per_image[caption['image_id']]:
            plural = {'person': 'people', 'cross': 'crosses'}.get(name, name + 's')
            assert name in caption['caption'] or plural in caption['caption']
