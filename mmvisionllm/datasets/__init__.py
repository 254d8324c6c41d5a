"""Datasets (one per source format), transforms, the task-grouped batch sampler and ShapesWorld."""
from .annotation_checks import AnnotationError, CheckedCOCO
from .coco_caption_dataset import CocoCaptionConversationDataset
from .coco_caption_tag_dataset import CocoCaptionTagDataset, caption_words
from .coco_instance_dataset import CocoInstanceConversationDataset
from .coco_keypoint_dataset import CocoPoseConversationDataset
from .conversation_mixin import ConversationDatasetMixin, DatasetSampleError
from .image_edit_dataset import ImageEditDataset
from .instruction_templates import TASK_INSTRUCTIONS
from .llava_dataset import LlavaConversationDataset
from .multi_task_dataset import MultiTaskDataset
from .refexp_dataset import RefExpConversationDataset
from .samplers import TaskGroupedBatchSampler, sample_groups
from .shapesworld import generate_shapesworld
from .task_definitions import (DECODER_GROUPS, IMAGE_TOKEN, REGION_TOKEN, ROUTING_TOKENS,
                               TASK_GROUPS, task_to_group)
from .task_registry import TASKS, TaskSpec, register_task
from .text_to_image_dataset import TextToImageDataset
from .transforms import (DynamicTiling, LoadMultimodalAnnotations, LoadOptionalImageFromFile,
                         LoadRegionPrompts, LoadTargetImage, PackMultimodalInputs,
                         ResizeWithKeypoints)
from .vqa_dataset import VQAv2ConversationDataset

__all__ = [
    'AnnotationError', 'CheckedCOCO', 'CocoCaptionConversationDataset', 'CocoCaptionTagDataset',
    'caption_words', 'CocoInstanceConversationDataset', 'CocoPoseConversationDataset',
    'ConversationDatasetMixin', 'DatasetSampleError', 'ImageEditDataset', 'TASK_INSTRUCTIONS',
    'LlavaConversationDataset', 'MultiTaskDataset', 'RefExpConversationDataset',
    'TaskGroupedBatchSampler', 'sample_groups', 'generate_shapesworld', 'DECODER_GROUPS',
    'IMAGE_TOKEN', 'REGION_TOKEN', 'ROUTING_TOKENS', 'TASK_GROUPS', 'task_to_group', 'TASKS',
    'TaskSpec', 'register_task', 'TextToImageDataset', 'DynamicTiling', 'LoadMultimodalAnnotations',
    'LoadOptionalImageFromFile', 'LoadRegionPrompts', 'LoadTargetImage', 'PackMultimodalInputs',
    'ResizeWithKeypoints', 'VQAv2ConversationDataset'
]
