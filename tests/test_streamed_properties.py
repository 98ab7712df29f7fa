"""Property: fit, compare and sweep with --memory-limit, over methods, batches and splits, end in 0, 2 or 3."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["fit", "compare", "sweep"]),
    limit=st.sampled_from(["1kB", "64kB", "4GB", "2e9", "0.5MiB", "bad", "0"]),
    method=st.sampled_from(["gram", "analytic", "autograd", "finite-diff"]),
    batch=st.sampled_from([None, 1, 64, 5000]),
    val=st.sampled_from([0.0, 0.2, 0.0001]),
    normalize=st.booleans(),
    rows=st.sampled_from([40, 700]),
)
def test_memory_limit_combinations_end_cleanly(run_cli, command, limit, method, batch, val, normalize, rows):
    args = [command, "--dataset", "synthetic", "--rows", str(rows), "--epochs", "3", "--memory-limit", limit,
            "--val-fraction", str(val)]
    if command == "fit":
        args += ["--method", method]
    if command == "sweep":
        args += ["--lr", "0.1:0.5", "--num", "2"]
    if batch is not None:
        args += ["--batch-size", str(batch)]
    if normalize:
        args += ["--normalize"]
    result = run_cli(*args)
    assert result.exit_code in (0, 2, 3), result.plain
    assert "Traceback" not in result.plain
