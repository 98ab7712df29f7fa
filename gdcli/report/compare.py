"""`gdcli compare`: one problem under several gradient methods and optimizers, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from rich.console import Group
from rich.text import Text

from gdcli.report import sharpness
from gdcli.report.advising import stood_still_note
from gdcli.report.agreement import agreement_table
from gdcli.report.fit import run_dict
from gdcli.report.many import gap_cell, interrupted, light_table, stop_cell, summary
from gdcli.report.numbers import fmt, fmt_params
from gdcli.tables import FitTable
from gdcli.text import plural
from gdcli.train.stopping import within_text

if TYPE_CHECKING:
    from gdcli.comparison import Agreement
    from gdcli.config import RunConfig
    from gdcli.train import RunResult


def _optimum(r: RunResult) -> str:
    """What runs are measured against: the least-squares optimum, or for a network the best straight line."""
    return "least-squares optimum" if r.exact_optimum else "best straight line"


# Compare's columns that a narrow terminal keeps (they say which run a row is, and how it ended),
# and the order in which the others give way: us/epoch first, then stopped, within, gap, val loss, diverged.
KEY_COLUMNS = ("method", "optim", "final loss")
COMPARE_PRIORITY = {"diverged": 5, "val loss": 4, "gap": 3, "within": 2, "stopped": 1}


class CompareView:
    """`gdcli compare`: the gradients at the start, then one row per strategy."""

    def __init__(self, results: list[RunResult], agreement: tuple[list[Agreement], dict[str, str]],
                 within: list[int | None], tol: float, curves: bool = False, device: str | None = None,
                 planned: list[RunConfig] | None = None):
        # agreement: compare.agreement's rows, and why each method missing from them was left out.
        # planned: every run asked for, trained or not (Ctrl-C leaves the last out): csv's columns.
        (self.agreement, self.left_out), self.results, self.within, self.tol = agreement, results, within, tol
        self.curves, self.device = curves, device
        self.planned = planned if planned is not None else [r.config for r in results]
        self.labels = strategy_labels([r.config for r in results])

    def table(self) -> list:
        results = self.results
        names = results[0].model.labels(results[0].features, results[0].targets)
        title = Text(
            f"compare: within {self.tol * 100:g}% = the first epoch {within_text(self.tol, _optimum(results[0]))}; "
            f"gap = final loss - {_optimum(results[0])}"
        )
        parts = [agreement_table(self.agreement, names), Group(title, self._runs_table(), self._params_table())]
        if self.curves:
            parts.append(curves_table(self.labels, results))
        return parts + [self._optimum_line()] + [Text(f"note: {n}", style="dim") for n in self._notes()]

    def _runs_table(self) -> FitTable:
        """One row per run: how it ended, against the optimum, and its time per epoch."""
        results = self.results
        table = light_table()
        has_val = any(r.final_val_loss is not None for r in results)
        stopped = any(r.stop is not None for r in results)
        for col in ("method", "optim", "final loss", "val loss", "gap", "within", "diverged", "stopped", "us/epoch"):
            if (col != "val loss" or has_val) and (col != "stopped" or stopped):
                # Numbers stay whole on a narrow terminal: the parameters get a table of their own below.
                label = f"within {self.tol * 100:g}%" if col == "within" else col  # relative, as the title says
                table.add_column(label, justify="left" if col in ("method", "optim") else "right", no_wrap=True,
                                 keep=col in KEY_COLUMNS, priority=COMPARE_PRIORITY.get(col, 0))
        for r, within in zip(results, self.within):
            table.add_row(
                r.config.method,
                r.config.optim,
                fmt(r.final_loss),
                *([fmt(r.final_val_loss)] if has_val else []),
                gap_cell(r),
                str(within or "never"),
                r.verdict.label,
                *([stop_cell(r)] if stopped else []),
                f"{r.seconds_per_epoch * 1e6:.1f}",
            )
        return table

    def _params_table(self) -> FitTable:
        """Each run's final parameters, a row each."""
        params = light_table(title="final parameters", title_justify="left")
        params.add_column("run", no_wrap=True, keep=True)
        params.add_column("params", overflow="fold", text=True)
        for r, label in zip(self.results, self.labels):
            params.add_row(label, fmt_params(r.params))
        return params

    def _optimum_line(self) -> Text:
        """The loss every run is measured against, or why it was not computed."""
        best = self.results[0]
        what = "optimum loss" if best.exact_optimum else "best straight line's loss (a network has no closed form)"
        if best.optimum_loss is None:
            return Text(f"{what}: not computed ({best.optimum_reason})")
        return Text(f"{what} {fmt(best.optimum_loss)}: least squares on the same {plural(best.n_train, 'training row')}")

    def _notes(self) -> list[str]:
        """Why a run did not converge or stood still, and why gram was left out."""
        runs = list(zip(self.labels, self.results))
        notes = [f"{label}: {r.verdict.reason}" for label, r in runs if r.verdict.kind != "converging"]
        notes += [f"{label}: stood still, {r.unmoved} ({stood_still_note(r)})" for label, r in runs if r.unmoved]
        if "gram" in self.left_out:
            notes.append(f"gram: left out, {self.left_out['gram']}")
        return notes

    def _run(self, r: RunResult, within: int | None, history: bool) -> dict:
        return {"method": r.config.method, "optim": r.config.optim, "first_within": within,
                **run_dict(r, history=history, device=self.device)}

    def document(self) -> dict:
        return {
            "interrupted": interrupted(self.results),
            "within": self.tol,
            "agreement": [vars(a) for a in self.agreement],
            "runs": [self._run(r, w, True) for r, w in zip(self.results, self.within)],
        }

    def lines(self) -> Iterator[dict]:
        yield from gradient_lines(self.agreement)
        for r, w in zip(self.results, self.within):
            yield {"type": "run", **self._run(r, w, False)}
        yield {"type": "summary", **summary(self.results)}

    def csv(self):
        """epoch, then one training-loss column per planned run (empty after a run stopped, and for a
        run never started)."""
        results = self.results
        longest = max(results, key=lambda r: len(r.epochs))
        unstarted = [None] * (len(self.planned) - len(results))
        # With --sharpness: each run's sharpness column after the losses (empty where not measured).
        sharp = [sharpness.history_columns(r)[0] for r in results] if self.planned[0].sharpness is not None else None

        def rows():
            for i, epoch in enumerate(longest.epochs):
                row = [epoch, *(r.train_loss[i] if i < len(r.train_loss) else None for r in results), *unstarted]
                if sharp is not None:
                    row += [*(values[i] if i < len(values) else None for values in sharp), *unstarted]
                yield row

        return compare_csv_header(self.planned), rows()


def strategy_labels(configs: list[RunConfig]) -> list[str]:
    """Each compared run's name, method:optim."""
    return [f"{c.method}:{c.optim}" for c in configs]


def compare_csv_header(configs: list[RunConfig]) -> list[str]:
    """compare's csv columns (known before training): the epoch, then one loss column per run (and with
    --sharpness one sharpness column per run)."""
    labels = strategy_labels(configs)
    return ["epoch", *labels, *([f"{label} sharpness" for label in labels] if configs[0].sharpness is not None else [])]


def gradient_lines(agreement: list[Agreement]) -> list[dict]:
    """compare's first JSON lines: each method's gradient at the start (known before training)."""
    return [{"type": "gradient", **vars(a)} for a in agreement]


def curves_table(labels: list[str], results: list[RunResult]) -> FitTable:
    """Training loss at the logged epochs, a column per run (on a narrow terminal, the first runs that fit)."""
    table = FitTable(hint="widen the terminal, or use --output csv", title="loss curves", title_justify="left")
    table.add_column("epoch", justify="right", no_wrap=True, keep=True)
    for label in labels:
        table.add_column(label, justify="right", no_wrap=True)
    base = results[0].config
    for epoch in (e for e in range(1, base.epochs + 1) if base.logged(e)):
        table.add_row(str(epoch), *(fmt(r.train_loss[epoch - 1]) if epoch <= len(r.train_loss) else "" for r in results))
    return table
