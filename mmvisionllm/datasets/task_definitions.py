"""The core's tasks, decoder groups, routing tokens and prompt placeholders.

This is the dataset side of docs/en/architecture.md section 1 (the table of tasks): a dataset writes
the routing token of its task after every target name of the answer, and the task-grouped batch
sampler puts the tasks of one decoder group in the same batch. Nothing here is reused from
mmdet/mmpose: the names are specific to VisionLLM v2's super link.

The tables below are the core's own tasks only; they are declared in :mod:`.core_tasks`, and
:func:`task_to_group` / :func:`routing_token_of` answer for every declared task, a plugin's too
(:func:`~.task_registry.register_task`).
"""
from typing import Dict, Optional

__all__ = [
    'IMAGE_TOKEN', 'REGION_TOKEN', 'ROUTING_TOKENS', 'TASK_GROUPS', 'TEXT_TASKS', 'DECODER_GROUPS',
    'task_to_group', 'routing_token_of', 'CORE_ROUTING_TOKENS'
]

#: Placeholder of the image in the first human turn (LLaVA convention).
IMAGE_TOKEN = '<image>'
#: Placeholder of one box/mask prompt; one per entry of the sample's ``regions`` metainfo.
REGION_TOKEN = '<region>'

#: Routing token written after each target name, per task (tasks of the text group have none).
ROUTING_TOKENS: Dict[str, str] = {
    'det': '[DET]',
    'seg': '[SEG]',
    'grd': '[GRD]',
    'pose': '[POSE]',
    'gen': '[GEN]',
    'edit': '[EDIT]',
}

#: Decoder group of each task; a training batch only holds tasks of one group.
TASK_GROUPS: Dict[str, str] = {
    'det': 'det',
    'seg': 'det',
    'grd': 'det',
    'pose': 'pose',
    'gen': 'gen',
    'edit': 'edit',
    'vqa': 'text',
    'caption': 'text',
    'region': 'text',
    'chat': 'text',
}

#: Tasks answered by the language model alone.
TEXT_TASKS = tuple(task for task, group in TASK_GROUPS.items() if group == 'text')
#: The core's decoder groups in a fixed order (the sampler reports them first, in this order).
DECODER_GROUPS = ('det', 'pose', 'gen', 'edit', 'text')
#: The core's routing tokens, in the order they enter the vocabulary.
CORE_ROUTING_TOKENS = tuple(ROUTING_TOKENS.values())


def task_to_group(task: str) -> str:
    """Return the decoder group of a task.

    Args:
        task (str): A task name, e.g. ``'seg'``.

    Returns:
        str: Its group, e.g. ``'det'``.

    Raises:
        KeyError: If the task is not declared (the message lists the declared ones).
    """
    from .task_registry import TASKS
    return TASKS.get(task).group


def routing_token_of(task: str) -> Optional[str]:
    """Return the routing token of a task, or None for the text tasks.

    Args:
        task (str): A task name.

    Returns:
        str | None: e.g. ``'[DET]'`` for ``'det'``.
    """
    from .task_registry import TASKS
    return TASKS.get(task).routing_token
