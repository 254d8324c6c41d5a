"""Models: the VisionLLMv2 core, its parts and the decoder plugins."""
from .decoders import *  # noqa: F401,F403
from .language_models import *  # noqa: F401,F403
from .mllm import *  # noqa: F401,F403
from .pretraining import *  # noqa: F401,F403
from .region_encoder import *  # noqa: F401,F403
from .super_link import *  # noqa: F401,F403
from .vision_encoders import *  # noqa: F401,F403
