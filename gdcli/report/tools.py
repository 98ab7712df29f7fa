"""What the tools (sample, grad) render, gathered from gdcli.report.tensors, sample, grad and explain."""

from gdcli.report.explain import (  # noqa: F401
    EXPLAIN_JSON_ROWS,
    EXPLAIN_ROWS,
    EXPLAIN_UNITS,
    backprop_dict,
    backprop_parts,
    chain_rule_dict,
    chain_rule_parts,
)
from gdcli.report.grad import (  # noqa: F401
    GRAD_DIFF_NOTE,
    dataset_gradient_json,
    dataset_gradient_parts,
    grad_json,
    grad_renderables,
)
from gdcli.report.sample import (  # noqa: F401
    BAR_WIDTH,
    MOMENTS,
    HistogramBars,
    format_tensor_like,
    histogram_text,
    sample_json,
    sample_renderables,
)
from gdcli.report.tensors import MAX_COLUMNS, MAX_ROWS, fmt_g, format_tensor, tensor_table, titled  # noqa: F401
