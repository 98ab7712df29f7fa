"""The book's own training loops for the thermometer (chapters 5 and 6), as the baseline.

Written the way the chapters write them: chapter 5's model function, loss function
and Python loop over epochs that prints every 500 epochs; chapter 6's nn.Sequential
network with nn.MSELoss and optim.SGD, whose loop prints on epoch 1 and every 1000.
"""

from collections import OrderedDict

import torch
from torch import nn

T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]
T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]


def data(scale=0.1):
    """(t_un, t_c): the scaled readings and the Celsius targets."""
    return scale * torch.tensor(T_U), torch.tensor(T_C)


def model(t_u, w, b):
    return w * t_u + b


def loss_fn(t_p, t_c):
    squared_diffs = (t_p - t_c) ** 2
    return squared_diffs.mean()


def _report(epoch, loss, out):
    if epoch % 500 == 0:
        print("Epoch %d, Loss %f" % (epoch, loss.item()), file=out)


def dloss_fn(t_p, t_c):
    return 2 * (t_p - t_c) / t_p.size(0)


def grad_fn(t_u, t_c, t_p, w, b):
    dloss_dtp = dloss_fn(t_p, t_c)
    dloss_dw = dloss_dtp * t_u  # dmodel/dw
    dloss_db = dloss_dtp * 1.0  # dmodel/db
    return torch.stack([dloss_dw.sum(), dloss_db.sum()])


def analytic_gd(n_epochs, learning_rate, params, t_u, t_c, out):
    for epoch in range(1, n_epochs + 1):
        w, b = params
        t_p = model(t_u, w, b)
        loss = loss_fn(t_p, t_c)
        grad = grad_fn(t_u, t_c, t_p, w, b)
        params = params - learning_rate * grad
        _report(epoch, loss, out)
    return params


def finite_diff_gd(n_epochs, learning_rate, params, t_u, t_c, out, delta=0.1):
    for epoch in range(1, n_epochs + 1):
        w, b = params
        loss = loss_fn(model(t_u, w, b), t_c)
        dw = (loss_fn(model(t_u, w + delta, b), t_c) - loss_fn(model(t_u, w - delta, b), t_c)) / (2.0 * delta)
        db = (loss_fn(model(t_u, w, b + delta), t_c) - loss_fn(model(t_u, w, b - delta), t_c)) / (2.0 * delta)
        params = params - learning_rate * torch.stack([dw, db])
        _report(epoch, loss, out)
    return params


def autograd_gd(n_epochs, learning_rate, params, t_u, t_c, out):
    for epoch in range(1, n_epochs + 1):
        if params.grad is not None:
            params.grad.zero_()
        t_p = model(t_u, *params)
        loss = loss_fn(t_p, t_c)
        loss.backward()
        with torch.no_grad():
            params -= learning_rate * params.grad
        _report(epoch, loss, out)
    return params


def autograd_optim(n_epochs, optimizer, params, t_u, t_c, out):
    for epoch in range(1, n_epochs + 1):
        t_p = model(t_u, *params)
        loss = loss_fn(t_p, t_c)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        _report(epoch, loss, out)
    return params


def seq_model(n_hidden=8):
    """Chapter 6's network: Linear(1, 8), Tanh, Linear(8, 1), with named layers."""
    return nn.Sequential(
        OrderedDict(
            [
                ("hidden_linear", nn.Linear(1, n_hidden)),
                ("hidden_activation", nn.Tanh()),
                ("output_linear", nn.Linear(n_hidden, 1)),
            ]
        )
    )


def training_loop_nn(n_epochs, optimizer, model, loss_fn, t_u_train, t_c_train, out):
    """Chapter 6's loop on the training rows (no validation pass): inputs and targets (n, 1).

    Returns the last epoch's training loss (before its step), as the loop last printed it.
    """
    for epoch in range(1, n_epochs + 1):
        t_p_train = model(t_u_train)
        loss_train = loss_fn(t_p_train, t_c_train)
        optimizer.zero_grad()
        loss_train.backward()
        optimizer.step()
        if epoch == 1 or epoch % 1000 == 0:
            print(f"Epoch {epoch}, Training loss {loss_train.item():.4f}", file=out)
    return loss_train


if __name__ == "__main__":
    # The book's script as a whole process: the autograd loop, 5000 epochs, lr 1e-2.
    import sys

    t_u, t_c = data()
    params = autograd_gd(5000, 1e-2, torch.tensor([1.0, 0.0], requires_grad=True), t_u, t_c, sys.stdout)
    print(params.tolist())
