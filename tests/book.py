"""The book's printed numbers: the one reference every layer's tests read.

Deep Learning with PyTorch, chapter 5: the thermometer readings t_u (unknown
units) against Celsius t_c, the linear model w * t_u + b, mean squared error,
the parameters starting at w = 1, b = 0. The book prints float32 results, so
comparisons use a relative tolerance of 1e-5 (REL), and parameters to the four
decimals it shows (PARAM_ABS).
"""

REL = 1e-5
PARAM_ABS = 2e-4

T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]

# The loss and its gradient at w = 1, b = 0 on the unscaled readings.
START_LOSS = 1763.8846
START_GRAD = [4517.2969, 82.6000]

# lr 1e-2 on unscaled readings: the loss explodes and overflows float32 at epoch 11.
DIVERGING_LOSSES = [1763.884644, 5802485.5, 19408035840.0]
DIVERGING_PARAMS_EPOCH_1 = [-44.1730, -0.8260]  # w, b after epoch 1's update
DIVERGING_GRAD_EPOCH_2 = [-261257.4062, -4598.9712]
DIVERGED_AT = 11
DIVERGED_PARAMS = [-1.8590e19, -3.2746e17]

# lr 1e-4 on unscaled readings, 100 epochs.
SLOW_LOSS_EPOCH_100 = 29.022669

# The fix: t_un = 0.1 * t_u, lr 1e-2, 5000 epochs.
SCALED_START_LOSS = 80.364342
SCALED_LOSS = 2.927648
SCALED_PARAMS = [5.3671, -17.3012]

# Adam, lr 1e-1, unscaled, 2000 epochs.
ADAM_LOSS = 2.927646
ADAM_PARAMS = [0.5367, -17.3021]


# --- the same rows as tensors, and the references computed from them ------------------------------


def columns(scale=1.0, dtype=None):
    """t_u * scale and t_c as (11, 1) columns, scaled in `dtype` (float32 unless given) as the book does."""
    import torch

    dtype = dtype or torch.float32
    t_u = torch.tensor(T_U, dtype=dtype).unsqueeze(1) * scale
    return t_u, torch.tensor(T_C, dtype=dtype).unsqueeze(1)


def celsius(scale=0.1, rows=None, dtype=None):
    """(X augmented with a column of ones, y) for the thermometer, float64 unless given, optionally some rows."""
    import torch

    t_u, t_c = columns(scale, dtype or torch.float64)
    if rows is not None:
        t_u, t_c = t_u[rows], t_c[rows]
    return torch.cat([t_u, torch.ones_like(t_u)], 1), t_c


def lstsq(X, y):
    """Least-squares theta (k + 1, targets) and its mean squared error, in float64 (torch.linalg.lstsq)."""
    import torch

    X, y = X.double(), y.double()
    theta = torch.linalg.lstsq(X, y).solution
    return theta, float((X @ theta - y).square().mean())


def mse(X, y, w, b):
    """Mean squared error of y_hat = X[:, 0] * w + b (one feature, one target)."""
    return float((X[:, 0] * w + b - y[:, 0]).square().mean())
