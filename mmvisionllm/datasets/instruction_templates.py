"""Instruction templates of every task (several phrasings each, as in VisionLLM v2's training data).

A dataset draws one phrasing at random per training sample and uses phrasing 0 at test time
(``select_template_index``). The answer formats put one routing token right after each target name
(docs/en/architecture.md section 1). The ShapesWorld tokenizer is built from these strings too, so
edit them here only and regenerate the tokenizer.
"""
import random
import re
from typing import Dict, List, Optional, Sequence, Tuple

from .task_definitions import ROUTING_TOKENS

__all__ = [
    'TASK_INSTRUCTIONS', 'REGION_QUESTIONS', 'GENERATION_ANSWER', 'EDIT_ANSWER',
    'select_template_index', 'format_instruction', 'routed_answer', 'all_template_texts'
]

#: Instruction phrasings per task; ``{...}`` fields are filled by the datasets.
TASK_INSTRUCTIONS: Dict[str, Tuple[str, ...]] = {
    'det': (
        'Please detect the following objects in the image: {classes}.',
        'Detect {classes} in this image.',
        'Find every instance of these categories in the picture: {classes}.',
        'Can you locate all objects of the classes {classes}?',
    ),
    'seg': (
        'Please segment the following objects in the image: {classes}.',
        'Segment {classes} in this image.',
        'Give me the instance masks of these categories: {classes}.',
        'Can you segment all objects of the classes {classes}?',
    ),
    'grd': (
        'Please locate {expression} in the image.',
        'Where is {expression}?',
        'Find {expression} in this picture.',
        'Can you point out {expression}?',
    ),
    'pose': (
        'Please detect the keypoints of every {category} in the image. '
        'The keypoints are {keypoints}.',
        'Find the {keypoints} of each {category}.',
        'Estimate the pose of every {category} with these keypoints: {keypoints}.',
    ),
    'gen': (
        'Please generate an image of {caption}.',
        'Draw {caption}.',
        'Create a picture showing {caption}.',
        'Generate an image: {caption}.',
    ),
    'edit': (
        'Please edit the image: {instruction}.',
        'Change the image as follows: {instruction}.',
        'Edit this picture and {instruction}.',
        '{instruction}.',
    ),
    'vqa': (
        '{question}\nAnswer the question using a single word or phrase.',
        '{question}\nAnswer with one word or a number.',
        'Question: {question} Short answer:',
    ),
    'caption': (
        'Describe the image briefly.',
        'Write a short caption for this image.',
        'What does this picture show? Answer in one sentence.',
        'Give a brief description of the image.',
    ),
}

#: Questions about a box/mask prompt (``<region>`` is replaced by the region token in the model).
REGION_QUESTIONS: Tuple[str, ...] = (
    'What is this <region>?',
    'What is in <region>?',
    'Describe the object in <region>.',
    'Can you tell me what <region> is?',
)

_PLACEHOLDER = re.compile(r'\{[A-Za-z_][A-Za-z0-9_]*\}')

#: Answer of the generation task (target name ``image``).
GENERATION_ANSWER = 'Here is the image ' + ROUTING_TOKENS['gen']
#: Answer of the editing task (target name ``image``).
EDIT_ANSWER = 'Here is the edited image ' + ROUTING_TOKENS['edit']


def select_template_index(num_templates: int,
                          test_mode: bool,
                          template_index: Optional[int] = None,
                          rng: Optional[random.Random] = None) -> int:
    """Choose which phrasing a sample uses.

    Args:
        num_templates (int): Number of phrasings of the task.
        test_mode (bool): Test samples always use phrasing 0 unless ``template_index`` is given.
        template_index (int, optional): Force this phrasing (train or test).
        rng (random.Random, optional): Generator for the random choice; Python's global ``random``
            (seeded per worker by MMEngine) if None.

    Returns:
        int: The phrasing index.
    """
    if template_index is not None:
        if not 0 <= template_index < num_templates:
            raise IndexError(f'template_index {template_index} is out of range: the task has '
                             f'{num_templates} templates')
        return template_index
    if test_mode:
        return 0
    return (rng or random).randrange(num_templates)


def format_instruction(task: str, index: int, **fields: str) -> str:
    """Fill phrasing ``index`` of a task.

    Args:
        task (str): A declared task (its ``templates``; the core's are ``TASK_INSTRUCTIONS``).
        index (int): Phrasing index.
        **fields (str): Values of the template's placeholders.

    Returns:
        str: The instruction.
    """
    from .task_registry import TASKS
    templates = TASKS.get(task).templates
    if not templates:
        raise KeyError(f'task {task!r} declares no instruction templates (register_task(..., '
                       'templates=...))')
    try:
        text = templates[index].format(**fields)
    except KeyError as error:
        raise KeyError(f'template {index} of task {task!r} ({templates[index]!r}) needs field '
                       f'{error}, the dataset gave {sorted(fields)}') from error
    return text[0].upper() + text[1:] if text else text


def routed_answer(target_names: Sequence[str], routing_token: str) -> str:
    """Answer that names each target followed by its routing token.

    Args:
        target_names (Sequence[str]): The targets, e.g. class names.
        routing_token (str): e.g. ``'[DET]'``.

    Returns:
        str: e.g. ``'circle [DET], square [DET]'``.
    """
    return ', '.join(f'{name} {routing_token}' for name in target_names)


def all_template_texts() -> List[str]:
    """Every fixed text of the declared tasks' templates (placeholders removed) and of this
    module, for vocabularies."""
    from .task_registry import TASKS
    texts: List[str] = []
    for task in TASKS.names():
        for phrasing in TASKS.get(task).templates:
            texts.append(_PLACEHOLDER.sub(' ', phrasing))
    texts.extend(REGION_QUESTIONS)
    texts.extend([GENERATION_ANSWER, EDIT_ANSWER])
    return texts
