"""Many runs side by side under their old name: compare's and sweep's views live in gdcli.report.compare,
sweep, sweep_summary, agreement and many."""

from gdcli.report.agreement import DIFF_NOTE, agreement_table  # noqa: F401
from gdcli.report.compare import (  # noqa: F401
    COMPARE_PRIORITY,
    KEY_COLUMNS,
    CompareView,
    compare_csv_header,
    curves_table,
    gradient_lines,
    strategy_labels,
)
from gdcli.report.many import interrupted, stop_cell, summary  # noqa: F401
from gdcli.report.sweep import SWEEP_CSV, SweepView, grid_header, grid_line  # noqa: F401
