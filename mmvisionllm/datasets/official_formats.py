"""The official VisionLLM v2 release's evaluation phrasings (``answer_format='official'``).

A dataset built with ``answer_format='official'`` writes its conversation the way the official
evaluation does (its question and answer lists at index 0, facts of
``official_visionllmv2_7b_state_dict.json`` ``answer_formats``): e.g. detection
``"Can you analyze the image and identify the person, car present?"`` ->
``"Yes, here are the results for person[DET], car[DET] in the image."``. The routing token
follows the name without a space; the query placeholders (``[EMB][EMB2][EMB3][EMB4]`` or
64 x ``[EMB]`` with the official config) are inserted by the conversation tokenizer, as for the
default format. The official model routes a pose sample's object class through ``[DET]`` and its
keypoint names through ``[POSE]`` (both read by UniPose); that split is written here, its routing
to one pose decoder belongs to the pose decoder.

Plain string formatting: no library holds these phrasings.
"""
from typing import Optional, Sequence

__all__ = ['ANSWER_FORMATS', 'OFFICIAL_QUESTIONS', 'OFFICIAL_ANSWERS', 'official_turns']

#: The formats a dataset accepts.
ANSWER_FORMATS = ('mmvisionllm', 'official')

OFFICIAL_QUESTIONS = dict(
    det='Can you analyze the image and identify the {classes} present?',
    seg='Could you aid me in generating unique masks for every category present in {classes} in '
    'this image?',
    grd='Where can we locate the {expression} in the image?',
    pose_keypoints='Can you examine the image and pinpoint the keypoint locations of the '
    '{keypoints}?',
    gen='Generate image with caption: {caption}.',
    edit='Edit the image according to the caption: {instruction}.')
OFFICIAL_ANSWERS = dict(
    det='Yes, here are the results for {targets} in the image.',
    grd='Yes, it is {targets}.',
    pose_keypoints='Utilizing keypoints detection, the image analysis reveals the location of '
    '{targets}.',
    gen='Here it is {targets}.')


def _routed(names: Sequence[str], routing_token: str) -> str:
    return ', '.join(f'{name}{routing_token}' for name in names)


def official_turns(task: str,
                   target_names: Sequence[str] = (),
                   routing_token: Optional[str] = None,
                   text: Optional[str] = None,
                   keypoint_names: Sequence[str] = ()) -> tuple:
    """The (question, answer) of a sample in the official format, without the image marker.

    Args:
        task (str): ``det``, ``seg``, ``grd``, ``pose``, ``gen`` or ``edit``.
        target_names (Sequence[str]): Class names (det/seg), the object class (pose).
        routing_token (str, optional): The task's routing token (``[DET]``, ``[SEG]``...).
        text (str, optional): The referring expression (grd), caption (gen) or edit instruction.
        keypoint_names (Sequence[str]): Keypoint names (pose).

    Returns:
        tuple[str, str]: Question and answer text.
    """
    if task in ('det', 'seg'):
        question = OFFICIAL_QUESTIONS[task].format(classes=', '.join(target_names))
        return question, OFFICIAL_ANSWERS['det'].format(
            targets=_routed(target_names, routing_token))
    if task == 'grd':
        return (OFFICIAL_QUESTIONS['grd'].format(expression=text),
                OFFICIAL_ANSWERS['grd'].format(targets=routing_token))
    if task == 'pose':
        question = OFFICIAL_QUESTIONS['det'].format(classes=', '.join(target_names)) + ' ' + \
            OFFICIAL_QUESTIONS['pose_keypoints'].format(keypoints=', '.join(keypoint_names))
        answer = OFFICIAL_ANSWERS['det'].format(targets=_routed(target_names, '[DET]')) + ' ' + \
            OFFICIAL_ANSWERS['pose_keypoints'].format(
                targets=_routed(keypoint_names, routing_token))
        return question, answer
    if task in ('gen', 'edit'):
        field = 'caption' if task == 'gen' else 'instruction'
        return (OFFICIAL_QUESTIONS[task].format(**{field: text}),
                OFFICIAL_ANSWERS['gen'].format(targets=routing_token))
    raise KeyError(f'the official format has no phrasing for task {task!r}')
