"""The models gdcli fits, one registry entry each (base.py says what an entry carries).

Importing the package registers the built-ins, in --model's order: linear, quadratic, mlp.
A new model is a Model subclass passed to `register`.
"""

from gdcli.models.base import (  # noqa: F401
    DEFAULT,
    INITS,
    MODELS,
    LineParams,
    Model,
    Param,
    build,
    by_run,
    claims,
    default_delta,
    get,
    linear_in_params,
    loss,
    loss_scale,
    model_settings,
    names,
    of,
    outputs,
    register,
    squared_norms,
    unregister,
)
from gdcli.models.linear import Linear, Quadratic  # noqa: F401
from gdcli.models.mlp import ACTIVATIONS, MLP, Activation, Backprop, activation  # noqa: F401
