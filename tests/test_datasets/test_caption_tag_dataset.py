"""Caption words as image tags: known answers on a hand-written file, clear errors on bad ones."""
import json

import pytest

from mmvisionllm.datasets import AnnotationError, CocoCaptionTagDataset


def write_captions(path, captions_by_image):
    images = [dict(id=i, file_name=f'{i}.png', width=8, height=8) for i in captions_by_image]
    annotations = [
        dict(id=n, image_id=i, caption=c)
        for n, (i, c) in enumerate((i, c) for i, cs in captions_by_image.items() for c in cs)
    ]
    path.write_text(json.dumps(dict(images=images, annotations=annotations)))
    return str(path)


def test_tags_are_the_words_of_all_captions_of_the_image(tmp_path):
    ann = write_captions(
        tmp_path / 'c.json', {
            0: ['A large RED circle.', 'a picture with a circle.'],
            1: ['two stars.', 'a small blue star and a small blue star.'],
        })
    dataset = CocoCaptionTagDataset(
        tags=['red', 'blue', 'circle', 'star', 'small', 'two'],
        ann_file=ann,
        data_prefix=dict(img='imgs/'),
        pipeline=[])
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [info['img_id'] for info in infos] == [0, 1]
    assert infos[0]['gt_tags'] == [0, 2]  # red, circle ('circles' would not count)
    assert infos[1]['gt_tags'] == [1, 3, 4, 5]
    assert infos[0]['img_path'] == 'imgs/0.png'


def test_a_tag_no_caption_uses_is_an_error(tmp_path):
    ann = write_captions(tmp_path / 'c.json', {0: ['a red circle.']})
    with pytest.raises(
            AnnotationError, match=r"c\.json: no caption contains the tag\(s\) \['gren'\]"):
        CocoCaptionTagDataset(tags=['red', 'gren'], ann_file=ann, pipeline=[])


def test_an_image_without_captions_is_an_error(tmp_path):
    path = tmp_path / 'c.json'
    path.write_text(
        json.dumps(
            dict(
                images=[dict(id=0, file_name='0.png'),
                        dict(id=7, file_name='7.png')],
                annotations=[dict(id=1, image_id=0, caption='a red circle.')])))
    with pytest.raises(AnnotationError, match=r'image id=7 \(7\.png\) has no caption'):
        CocoCaptionTagDataset(tags=['red'], ann_file=str(path), pipeline=[])


@pytest.mark.parametrize('tags', [[], ['red', 'red'], ['Red'], ['two words']])
def test_bad_tag_vocabularies_are_refused(tmp_path, tags):
    ann = write_captions(tmp_path / 'c.json', {0: ['a red circle.']})
    with pytest.raises(ValueError, match='distinct lower-case words'):
        CocoCaptionTagDataset(tags=tags, ann_file=ann, pipeline=[])
