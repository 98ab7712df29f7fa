"""`gdcli sample`: the draw, what was drawn against what was asked, and a histogram."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from gdcli.emit import clean
from gdcli.report.tensors import MAX_ROWS, fmt_g, tensor_table, titled
from gdcli.tables import FitTable
from gdcli.text import plural

if TYPE_CHECKING:
    from gdcli.sampling import Histogram, Sample

BAR_WIDTH = 40


def sample_renderables(sample: "Sample") -> list[RenderableType]:
    """What `gdcli sample` shows: the draw, the statistics against what was asked, the histogram, notes."""
    n_draws = sample.draws.shape[0]
    shown = "draw 1 of " + str(n_draws) if n_draws > 1 else "drawn"
    parts: list[RenderableType] = [Text(f"{sample.distribution}, seed {sample.seed}, {_asked(sample)}", style="bold")]
    if sample.distribution == "multinomial":
        parts.append(_picks_table(sample, shown))
        parts.append(_categories_table(sample))
    else:
        parts.append(tensor_table(sample.first, f"{shown} (shape {list(sample.first.shape)})"))
        parts.append(_moments_table(sample))
    if sample.histogram:
        parts.append(HistogramBars(sample.histogram, f"histogram of {plural(sample.draws.numel(), 'value')}"))
    parts.extend(Text(f"note: {note}", style="dim") for note in sample.notes)
    return parts


def _asked(sample: "Sample") -> str:
    described = []
    for key, value in sample.asked.items():
        text = value if isinstance(value, str) else format_tensor_like(value)
        described.append(f"{key} {text}")
    return ", ".join(described)


def format_tensor_like(value: object) -> str:
    """A parameter as asked: a number, a short list, or a long list's length and ends."""
    if isinstance(value, list) and len(value) > 8:
        return f"[{fmt_g(value[0])}, {fmt_g(value[1])}, ..., {fmt_g(value[-1])}] ({plural(len(value), 'value')})"
    if isinstance(value, list):
        return "[" + ", ".join(fmt_g(v) if not isinstance(v, list) else format_tensor_like(v) for v in value) + "]"
    return fmt_g(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


# Which of the statistics a narrow terminal keeps longest (n gives way first).
MOMENTS = {"element": 9, "mean": 6, "expected mean": 5, "z": 4, "variance": 3, "expected variance": 2, "n": 0}


def _moments_table(sample: "Sample") -> Group:
    table = FitTable()
    for name in ("element", "n", "mean", "expected mean", "z", "variance", "expected variance"):
        table.add_column(name, justify="left" if name == "element" else "right", keep=name == "element",
                         priority=MOMENTS[name])
    for row in sample.moments:
        z = "-" if row.z is None else f"{row.z:+.2f}"
        table.add_row(
            row.label, fmt_g(row.n), fmt_g(row.mean), fmt_g(row.expected_mean), z, fmt_g(row.variance), fmt_g(row.expected_variance)
        )
    caption = "z: the mean's distance from its expectation in standard errors; |z| above 3 is unusual"
    return titled("drawn vs asked", table, caption)


def _picks_table(sample: "Sample", title: str) -> Group:
    weights = sample.asked["weights"]
    table = FitTable()
    for name in ("pick", "index", "weight"):
        table.add_column(name, justify="right", keep=name != "weight")
    picks = sample.first.tolist()
    for i, index in enumerate(picks[:MAX_ROWS]):
        table.add_row(str(i), str(index), fmt_g(weights[index]))
    cut = len(picks) > MAX_ROWS
    return titled(title, table, f"showing {MAX_ROWS} of {plural(len(picks), 'pick')}" if cut else None)


def _categories_table(sample: "Sample") -> Group:
    table = FitTable()
    for name, priority in (("index", 9), ("weight", 4), ("count", 3), ("share", 2), ("weight share", 1)):
        table.add_column(name, justify="right", keep=name == "index", priority=priority)
    for row in sample.categories:
        table.add_row(str(row.index), fmt_g(row.weight), str(row.count), f"{row.share:.3f}", f"{row.weight_share:.3f}")
    return titled("drawn vs asked", table)


def sample_json(sample: "Sample") -> dict:
    """One json object: the drawn values, the asked parameters and the statistics."""
    out = {
        "distribution": sample.distribution,
        "seed": sample.seed,
        "asked": sample.asked,
        "draws": sample.draws.shape[0],
        "shape": list(sample.first.shape),
        "values": sample.first,
    }
    if sample.draws.shape[0] > 1:
        out["all_values"] = sample.draws
    out["statistics"] = [{**vars(row), "z": row.z} for row in sample.moments]
    out["categories"] = [vars(row) for row in sample.categories]
    out["histogram"] = vars(sample.histogram) if sample.histogram else None
    out["notes"] = sample.notes
    return clean(out)


def histogram_text(hist: "Histogram", title: str = "histogram", room: int | None = None) -> Text:
    """Horizontal text bars, one line per bin, scaled to the largest count; shorter than BAR_WIDTH
    where `room` (the terminal's width) is too narrow for a line of full bars."""
    top = max(hist.counts) or 1
    labels = _aligned(hist.labels)
    width = max(len(label) for label in labels)
    bar = BAR_WIDTH
    if room is not None:
        bar = max(1, min(BAR_WIDTH, room - width - 4 - max(len(str(c)) for c in hist.counts)))
    lines = [title]
    for label, count in zip(labels, hist.counts):
        lines.append(f"  {label:>{width}} {'█' * round(bar * count / top):<{bar}} {count}")
    return Text("\n".join(lines))


class HistogramBars:
    """histogram_text as a renderable: its bars fit the console it is printed on."""

    def __init__(self, hist: "Histogram", title: str):
        self.hist, self.title = hist, title

    def __rich_console__(self, console, options):
        yield histogram_text(self.hist, self.title, options.max_width)


def _aligned(labels: list[str]) -> list[str]:
    """Interval labels [a, b) padded so that their commas line up; other labels as they are."""
    parts = [label[1:-1].split(", ") for label in labels]
    if not all(label[:1] == "[" and len(p) == 2 for label, p in zip(labels, parts)):
        return labels
    low = max(len(p[0]) for p in parts)
    high = max(len(p[1]) for p in parts)
    return [f"[{p[0]:>{low}}, {p[1] + label[-1]:<{high + 1}}" for label, p in zip(labels, parts)]
