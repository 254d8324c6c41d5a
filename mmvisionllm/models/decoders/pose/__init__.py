"""Pose decoder plugin: UniPose-style keypoint decoding from ``[POSE]`` link embeddings."""
from .criterion import UniPoseCriterion
from .image_encoder import PoseImageEncoder
from .match_costs import KeypointL1Cost, KeypointOKSCost, keypoint_oks_matrix
from .official import OfficialUniPoseDecoder
from .pose_specialist import PoseSpecialist
from .pose_transformer import UniPoseTransformerDecoder
from .prompt_encoder import LinkPromptEncoder
from .query_selector import PromptQuerySelector, prompt_logits
from .unipose_decoder import UniPoseDecoder, default_pose_criterion

__all__ = [
    'UniPoseDecoder', 'OfficialUniPoseDecoder', 'PoseSpecialist', 'default_pose_criterion',
    'UniPoseCriterion', 'PoseImageEncoder', 'LinkPromptEncoder', 'PromptQuerySelector',
    'prompt_logits', 'UniPoseTransformerDecoder', 'KeypointL1Cost', 'KeypointOKSCost',
    'keypoint_oks_matrix'
]
