"""The core's own task declarations (the tasks of docs/en/architecture.md section 1).

Loaded by :data:`~.task_registry.TASKS` before anything else is declared, so the core's tasks,
groups and routing tokens always come first; a plugin declares its own with
:func:`~.task_registry.register_task` in its module. Only names from
:mod:`.task_definitions` and :mod:`.instruction_templates` are used here.
"""
from .instruction_templates import TASK_INSTRUCTIONS
from .task_definitions import ROUTING_TOKENS, TASK_GROUPS
from .task_registry import register_task

__all__ = ['CORE_TASKS']

#: Tasks whose decoder needs no input image.
_IMAGE_FREE = ('gen', )

CORE_TASKS = tuple(
    register_task(
        task,
        group=group,
        routing_tokens=(ROUTING_TOKENS[task], ) if task in ROUTING_TOKENS else (),
        templates=TASK_INSTRUCTIONS.get(task, ()),
        image_free=task in _IMAGE_FREE) for task, group in TASK_GROUPS.items())
