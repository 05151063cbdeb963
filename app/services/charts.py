"""Benchmark charts as inline SVG, drawn by pygal on the server.

Nothing loads from elsewhere: pygal's own tooltip script (``js``) is off, and the small config
script and comments it still embeds are removed from the tree, so the markup is plain SVG
that works the same on the page, in the print view and pushed over htmx. Labels (candidate
names, run labels) are text nodes serialized by ElementTree, so they are always escaped.

pygal's ``<style>`` element is removed too: the Content-Security-Policy (app/edge.py) takes
style sheets only from this site, so a chart's look comes from :func:`stylesheet`, pygal's
own rules served as ``/charts.css`` and linked from every page (templates/base.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from xml.etree import ElementTree as ET

import pygal
from markupsafe import Markup
from pygal.style import Style

from app.services.benchmarks import Comparison, fmt_number

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#3b4351",
    foreground_strong="#1f2430",
    foreground_subtle="#8a93a3",
    opacity=".85",
    opacity_hover="1",
    colors=("#1f6feb", "#d97706", "#cf222e", "#1a7f37", "#8250df", "#0598bc", "#bf3989",
            "#6e7781"),
    font_family="system-ui, sans-serif",
    label_font_size=14,
    major_label_font_size=14,
    value_font_size=14,
    value_label_font_size=14,
    title_font_size=16,
    legend_font_size=14,
    tooltip_font_size=14,
)
# The figure's caption is the title; a small viewBox keeps the text readable when scaled.
BASE = dict(js=[], disable_xml_declaration=True, explicit_size=False, style=STYLE, width=520,
            height=360, legend_at_bottom=True, legend_at_bottom_columns=4, truncate_label=18,
            truncate_legend=20, no_data_text="No figures", margin=10)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    svg: Markup
    summary: str  # a sentence for screen readers (the figure's description)


def to_markup(chart, key: str) -> Markup:
    """Render a pygal chart to SVG without scripts, comments or style element (its look comes
    from :func:`stylesheet`). pygal names each chart with a random id; ``chart-<key>``
    replaces it, so the same data always renders the same markup (the page, the htmx
    partial and the print view agree)."""
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if child.tag is ET.Comment or _local_name(child) in ("script", "style"):
                parent.remove(child)
    random_id = tree.get("id")
    svg = ET.tostring(tree, encoding="unicode")
    if random_id:
        svg = svg.replace(random_id, f"chart-{key}")
    return Markup(svg)  # noqa: S704 (serialized by ElementTree: every text is escaped)


def _local_name(element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


# pygal scopes its CSS to one chart's id; the shared sheet scopes it to pygal's svg element.
STYLESHEET_SCOPE = "svg.pygal-chart"
STYLESHEET_SERIES = 32  # colours for this many series (more candidates than any review has)


@cache
def stylesheet() -> str:
    """The CSS of every chart: what pygal embeds in each chart for STYLE (fonts, axes, the
    colours of up to STYLESHEET_SERIES series, the time-series line width), scoped to
    ``svg.pygal-chart``. Served as ``/charts.css``."""
    chart = pygal.XY(**XY_OPTIONS, **BASE)
    for i in range(STYLESHEET_SERIES):
        chart.add(f"series {i}", [(0, i)])
    tree = chart.render_tree()
    css = "\n".join(el.text or "" for el in tree.iter() if _local_name(el) == "style")
    return css.replace("#" + tree.get("id"), STYLESHEET_SCOPE) + "\n"


def _bar(key: str, y_title: str, names: list[str], series: list[tuple[str, list]],
         digits: int = 1) -> Markup:
    """A bar chart, drawn once per distinct input (every viewer's page and refresh shows the
    same comparison; pygal takes far longer than the rest of the page)."""
    return _bar_svg(key, y_title, tuple(names), tuple((n, tuple(v)) for n, v in series), digits)


@lru_cache(maxsize=64)
def _bar_svg(key: str, y_title: str, names: tuple, series: tuple, digits: int) -> Markup:
    formatter = lambda v: fmt_number(v, digits)  # noqa: E731
    legend = len(series) > 1
    # pygal sets a bottom legend at the very edge of a bar chart: leave it room
    # Values print above the bars (on the page background), never on a coloured bar where
    # their contrast would depend on the series colour.
    chart = pygal.Bar(y_title=y_title, print_values=True, print_values_position="top",
                      show_legend=legend,
                      value_formatter=formatter, **(BASE | ({"margin_bottom": 28} if legend else {})))
    chart.x_labels = names
    for name, values in series:
        chart.add(name, values)
    return to_markup(chart, key)


def _series_text(names, values, unit) -> str:
    return "; ".join(f"{n}: {fmt_number(v)} {unit}" for n, v in zip(names, values, strict=True)
                     if v is not None)


def comparison_charts(comparison: Comparison) -> list[Chart]:
    """Requests/s, latency percentiles and error rate of each candidate's compared run, and the
    time series (requests/s and p95 over time) of the runs that have one."""
    rows = [row for row in comparison.rows if row.run]
    if not rows:
        return []
    names = [row.candidate.name for row in rows]
    rps = [row.run.figure("rps") for row in rows]
    errors = [row.run.error_rate_pct for row in rows]
    latency = [(p.upper(), [row.run.latency(p) for row in rows]) for p in ("p50", "p95", "p99")]
    charts = [
        Chart("rps", "Requests per second (higher is better)",
              _bar("rps", "requests/s", names, [("Requests/s", rps)]),
              _series_text(names, rps, "requests/s")),
        Chart("latency", "Latency percentiles in ms (lower is better)",
              _bar("latency", "ms", names, latency),
              "; ".join(f"{p}: " + _series_text(names, vals, "ms") for p, vals in latency)),
        Chart("errors", "Error rate in % (lower is better)",
              _bar("errors", "%", names, [("Error rate %", errors)], digits=2),
              _series_text(names, errors, "%")),
    ]
    return charts + timeseries_charts([(row.candidate.name, row.run) for row in rows])


MAX_POINTS = 300


def downsample(points: list, limit: int = MAX_POINTS) -> list:
    """Every k-th point, so a long run's line stays a light SVG (the shape is kept)."""
    step = max(1, -(-len(points) // limit))
    return points[::step]


XY_OPTIONS = dict(stroke=True, stroke_style={"width": 2.5}, show_dots=False,
                  allow_interruptions=True)


def _xy(key: str, y_title: str, series: list[tuple[str, list]]) -> Markup:
    """A line chart, drawn once per distinct input (see :func:`_bar`)."""
    return _xy_svg(key, y_title, tuple((n, tuple(map(tuple, pts))) for n, pts in series))


@lru_cache(maxsize=64)
def _xy_svg(key: str, y_title: str, series: tuple) -> Markup:
    chart = pygal.XY(x_title="seconds from start", y_title=y_title, **XY_OPTIONS,
                     value_formatter=lambda v: fmt_number(v),
                     x_value_formatter=lambda v: fmt_number(v, 0), **BASE)
    for name, points in series:
        chart.add(name, points)
    return to_markup(chart, key)


def timeseries_charts(named_runs: list[tuple[str, object]], prefix: str = "") -> list[Chart]:
    """Requests/s and p95 over time, one line per run that has a time series; ``prefix`` keeps
    chart ids unique when several sets share a page."""
    with_series = [(name, run) for name, run in named_runs if run.timeseries]
    charts = []
    for key, field_name, title, unit in (("rps_over_time", "rps", "Requests/s over time",
                                          "requests/s"),
                                         ("p95_over_time", "p95_ms", "p95 latency over time (ms)",
                                          "ms")):
        series = [(name, [(p["t_s"], p.get(field_name)) for p in downsample(run.timeseries)])
                  for name, run in with_series]
        series = [(name, pts) for name, pts in series if any(y is not None for _, y in pts)]
        if series:
            charts.append(Chart(prefix + key, title, _xy(prefix + key, unit, series),
                                f"{title} for " + ", ".join(name for name, _ in series) + "."))
    return charts
