"""Runs that would stall or mislead without a word: the real reason gram is left out of a gradient
check, a finite-difference step too small to change the loss, parameters that never move, and
work that goes on after the reader of stdout has gone."""

import pytest

from gdcli import data

GIB = 1024**3


@pytest.mark.parametrize("command", ["grad", "compare"])
def test_gram_left_out_for_memory_says_so(monkeypatch, run_cli, command):
    monkeypatch.setattr(data, "available_memory", lambda: GIB // 16)
    args = ["--dataset", "synthetic", "--features", "3000", "--rows", "10"]
    if command == "compare":
        args += ["--methods", "analytic,autograd", "--epochs", "2", "--quiet"]
    out = run_cli(command, *args)
    assert out.exit_code == 0, out.plain
    # nine float64 3,001-square matrices (the Gram matrix's copies and three per run): 0.6 GiB
    need = 9 * 3001**2 * 8 / GIB
    assert f"gram: left out, its 3,001 x 3,001 matrices need about {need:.1f} GiB of memory; 0.1 GiB is available" \
        in out.plain, out.plain
    assert "not linear" not in out.plain


def test_gram_left_out_of_a_network_says_why(run_cli):
    out = run_cli("grad", "--dataset", "celsius", "--model", "mlp")
    assert out.exit_code == 0, out.plain
    assert "gram: left out, the mlp model is not linear in its parameters" in out.plain
