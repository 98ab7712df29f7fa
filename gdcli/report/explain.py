"""`gdcli grad --dataset --explain`: the gradient of a model's loss worked out with the numbers, as
the chain rule for a model linear in its parameters, or backpropagation through an MLP."""

from __future__ import annotations

from rich.text import Text

from gdcli.report.numbers import fmt, value_rows
from gdcli.tables import FitTable
from gdcli.text import plural

# --explain shows this many rows of the chain rule (its sums are over every row).
EXPLAIN_ROWS = 20
EXPLAIN_JSON_ROWS = 10_000  # rows of per-row factors in --explain's JSON
EXPLAIN_UNITS = 8  # hidden units shown per table of --explain for an MLP (the sums cover all)


def _loss_lines(n: int, targets: int, reduction: str, loss: float, scale: float, output: str) -> tuple[str, str]:
    """The loss over the rows with its value, and dL/dy_hat, the factor every gradient starts from
    (`output` labels that line)."""
    mean = reduction == "mean"
    dims = plural(n, "row") + (f" x {targets} targets" if targets > 1 else "")
    total = f"L = mean over {dims} of (y_hat - y)^2" if mean else "L = sum of (y_hat - y)^2"
    factor = f"  {output}dL/dy_hat_i = {'2/' + str(n * targets) if mean else '2'} * (y_hat_i - y_i)"
    return f"{total} = {fmt(loss)}\n", f"{factor}   (= {scale:.6g} * residual)\n"


def chain_rule_parts(steps, X, y, features, targets, reduction: str) -> list:
    """The chain rule for the linear model, step by step, with the numbers: text, then a table per target."""
    n = X.shape[0]
    total, factor = _loss_lines(n, len(targets), reduction, steps.loss, steps.scale, "")
    parts = [
        Text(
            "chain rule for y_hat = w . x + b and " + total + factor
            + "  dy_hat_i/dw = x_i,  dy_hat_i/db = 1\n"
            + "  dL/dw = sum_i dL/dy_hat_i * x_i,  dL/db = sum_i dL/dy_hat_i * 1"
        )
    ]
    X = X[:EXPLAIN_ROWS].tolist()
    for t, target in enumerate(targets):
        table = _chain_rule_table(steps, X, y, t, n, features, f"target {target}" if len(targets) > 1 else None)
        grad = steps.grad[:, t].tolist()
        names = [f"dL/dw_{f}" for f in features] + ["dL/db"]
        parts.append(table)
        parts.append(Text("  " + ",  ".join(f"{nm} = {fmt(g, 4)}" for nm, g in zip(names, grad))))
    return parts


def _chain_rule_table(steps, X: list, y, t: int, n: int, features, title: str | None) -> FitTable:
    """One target's factors for the first rows, each row's products, and their sums: the gradient."""
    table = FitTable(title=title)
    # A narrow terminal keeps the products (their sums are the gradient) and dL/dy_hat longest.
    table.add_column("row", justify="right", keep=True)
    for f in features:
        table.add_column(f, justify="right", priority=2)
    for col, priority in (("y", 1), ("y_hat", 1), ("dL/dy_hat", 3)):
        table.add_column(col, justify="right", priority=priority)
    for f in features:
        table.add_column(f"dL/dy_hat * {f}", justify="right", priority=4)
    table.add_column("dL/dy_hat * 1", justify="right", priority=4)
    d = steps.dL_dyhat[:EXPLAIN_ROWS, t].tolist()
    data = value_rows([[*X[i], float(y[i, t])] for i in range(min(n, EXPLAIN_ROWS))])
    for i in range(min(n, EXPLAIN_ROWS)):
        contributions = [d[i] * x for x in X[i]] + [d[i]]
        table.add_row(str(i + 1), *data[i], fmt(float(steps.y_hat[i, t]), 4), fmt(d[i], 4),
                      *(fmt(c, 4) for c in contributions))
    if n > EXPLAIN_ROWS:
        table.add_row("...", *[""] * (len(features) + 3), *[""] * (len(features) + 1))
    table.add_section()
    grad = steps.grad[:, t].tolist()
    table.add_row(f"sum of {n:,}" if n > EXPLAIN_ROWS else "sum", *[""] * (len(features) + 3), *(fmt(g, 4) for g in grad))
    return table


def chain_rule_dict(steps, X, y) -> dict:
    """The chain rule's factors as JSON-ready data (dy_hat/dtheta of a row: its inputs, then 1)."""
    import torch

    shown = min(X.shape[0], EXPLAIN_JSON_ROWS)
    Xa = torch.cat([X[:shown], torch.ones(shown, 1, dtype=X.dtype)], 1)
    return {
        "loss": steps.loss,
        "rows": X.shape[0],
        "rows_shown": shown,
        "y_hat": steps.y_hat[:shown].tolist(),
        "dL_dyhat": steps.dL_dyhat[:shown].tolist(),
        "dyhat_dtheta": Xa.tolist(),
        "grad": steps.grad.T.tolist(),
    }


def backprop_parts(bp, model, X, y, features, targets, reduction: str) -> list:
    """Backpropagation through the MLP, layer by layer, with the numbers for the first rows and the sums."""
    n, H = X.shape[0], model.hidden
    units = min(H, EXPLAIN_UNITS)
    rows = range(min(n, EXPLAIN_ROWS))
    unit_note = f" (the first {units} of {H} units)" if units < H else ""
    return [
        _backprop_text(bp, model, n, len(targets), reduction),
        _forward_table(bp, X, y, features, targets, rows, n),
        _per_row_table(f"h = {model.activation}(z), per row{unit_note}", bp.h[0], rows, units, n),
        _per_row_table(f"dL/dh = dL/dy_hat W2, per row{unit_note}", bp.d_h[0], rows, units, n),
        _per_row_table(f"dL/dz = dL/dh * f'(z), per row{unit_note}", bp.d_z[0], rows, units, n),
        _sums_table(bp, n, H, features, targets),
        Text("  dL/db2 = " + ", ".join(fmt(float(v), 4) for v in bp.d_b2[0])),
    ]


def _backprop_text(bp, model, n: int, t: int, reduction: str) -> Text:
    """The network's forward pass and each step of backpropagation, as formulas."""
    from gdcli.models import activation

    act, H = model.activation, model.hidden
    total, factor = _loss_lines(n, t, reduction, float(bp.loss[0]), bp.scale, "output:        ")
    return Text(
        f"backpropagation for y_hat = W2 {act}(W1 x + b1) + b2 and " + total
        + f"  forward:       z = W1 x + b1 ({plural(H, 'hidden unit')}),  h = {act}(z),  y_hat = W2 h + b2\n"
        + factor
        + "  output layer:  dL/dW2 = sum_i dL/dy_hat_i h_i,  dL/db2 = sum_i dL/dy_hat_i\n"
        + "  back to h:     dL/dh_i = dL/dy_hat_i W2\n"
        + f"  activation:    dL/dz_i = dL/dh_i * f'(z_i),  f'(z) = {activation(act).formula}\n"
        + "  hidden layer:  dL/dW1 = sum_i dL/dz_i x_i,  dL/db1 = sum_i dL/dz_i"
    )


def _forward_table(bp, X, y, features, targets, rows: range, n: int) -> FitTable:
    """The first rows' inputs, targets, predictions and dL/dy_hat."""
    t = len(targets)
    out = FitTable(title="forward and output, per row", title_justify="left")
    out.add_column("row", justify="right", keep=True)
    for f in features:
        out.add_column(Text(f), justify="right")
    for target in targets:
        suffix = f" {target}" if t > 1 else ""
        for col in ("y", "y_hat", "dL/dy_hat"):
            out.add_column(Text(col + suffix), justify="right")
    Xs, ys = value_rows(X[: len(rows)].tolist()), value_rows(y[: len(rows)].tolist())
    for i in rows:
        cells = [str(i + 1), *Xs[i]]
        for j in range(t):
            cells += [ys[i][j], fmt(float(bp.y_hat[0, i, j]), 4), fmt(float(bp.d_yhat[0, i, j]), 4)]
        out.add_row(*cells)
    if n > len(rows):
        out.add_row("...", *[""] * (len(features) + 3 * t))
    return out


def _per_row_table(title: str, values, rows: range, units: int, n: int) -> FitTable:
    """One hidden quantity (h, dL/dh, dL/dz) for the first rows and units."""
    table = FitTable(title=title, title_justify="left")
    table.add_column("row", justify="right", keep=True)
    for j in range(units):
        table.add_column(f"unit {j + 1}", justify="right")
    for i in rows:
        table.add_row(str(i + 1), *(fmt(float(values[i, j]), 4) for j in range(units)))
    if n > len(rows):
        table.add_row("...", *[""] * units)
    return table


def _sums_table(bp, n: int, H: int, features, targets) -> FitTable:
    """The sums over every row: the gradient of each layer's weights and biases, unit by unit."""
    t = len(targets)
    sums = FitTable(title=f"the sums over {n:,} rows: the gradient, unit by unit", title_justify="left")
    sums.add_column("unit", justify="right", keep=True)
    for f in features:
        sums.add_column(Text(f"dL/dW1[., {f}]"), justify="right")
    sums.add_column("dL/db1", justify="right")
    for target in targets:
        sums.add_column(Text(f"dL/dW2[{target}, .]" if t > 1 else "dL/dW2"), justify="right")
    for j in range(H):
        sums.add_row(
            str(j + 1),
            *(fmt(float(bp.d_w1[0, j, f]), 4) for f in range(len(features))),
            fmt(float(bp.d_b1[0, j]), 4),
            *(fmt(float(bp.d_w2[0, o, j]), 4) for o in range(t)),
        )
    return sums


def backprop_dict(bp, model, X) -> dict:
    """Backpropagation's factors as JSON-ready data: per row (the first rows), then the gradient by name."""
    shown = min(X.shape[0], EXPLAIN_JSON_ROWS)
    return {
        "loss": float(bp.loss[0]),
        "rows": X.shape[0],
        "rows_shown": shown,
        "z": bp.z[0, :shown].tolist(),
        "h": bp.h[0, :shown].tolist(),
        "y_hat": bp.y_hat[0, :shown].tolist(),
        "dL_dyhat": bp.d_yhat[0, :shown].tolist(),
        "dL_dh": bp.d_h[0, :shown].tolist(),
        "dL_dz": bp.d_z[0, :shown].tolist(),
        "grad": model.named(bp.grad[0]),
    }
