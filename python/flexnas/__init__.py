"""flexnas: neural architecture search over heterogeneous transformer encoders.

The compiled part (``flexnas._flexnas``) binds the same C++ libraries as the ``flexnas``
command: design spaces, architectures (model dicts), evaluators, studies and the built-in
trainer's network. ``flexnas.torch`` builds any architecture as a ``torch.nn.Module``.
See docs/python.md.
"""
from ._flexnas import (  # noqa: F401
    Architecture,
    Evaluator,
    InputError,
    Space,
    Study,
    TrainModel,
    __version__,
    evaluator_names,
    load_task,
)

__all__ = [
    "Architecture",
    "Evaluator",
    "InputError",
    "Space",
    "Study",
    "TrainModel",
    "__version__",
    "evaluator_names",
    "load_task",
]
