"""The dashboards' charts, built from the metrics' DataFrames.

Vega-Lite (through Altair) for every chart but the Sankey: a new browser tab draws a
Vega-Lite chart ~0.5 s sooner than a Plotly one (Plotly.js is a 4.7 MB bundle each tab
compiles before its first chart), which is most of what stood between a page's first
view and 2 s. The Sankey (no Vega-Lite equivalent) stays Plotly, drawn on demand only.

Units are in the axes: ``money`` formats dollars (the caller converts cents), ``percent``
shares, and every axis has a title with its unit. Days are UTC dates: axes and tooltips
format them in UTC, so a browser elsewhere does not shift them by its time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import plotly.graph_objects as go
import polars as pl

from .flows import coin_flow

__all__ = ["DAY", "bars", "candles", "depth", "fan", "flow_by_kind", "frontier", "line", "lorenz", "retention",
           "revenue", "sankey", "yaxis"]

DAY = "day (UTC)"
MONEY = "$,.2f"
PERCENT = ".1%"
# Distinct colours for charts with many series (issuance and burn kinds, fan sources).
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f"]


def _fmt(money: bool, percent: bool) -> str | None:
    return MONEY if money else PERCENT if percent else None


def yaxis(field: str, title: str, *, log: bool = False, money: bool = False, percent: bool = False,
          domain: Sequence[float] | None = None, stack: Any = alt.Undefined) -> alt.Y:
    """A quantitative y axis with its unit in the title and tick format; log on request."""
    scale = alt.Scale(type="log") if log else alt.Scale(domain=list(domain)) if domain else alt.Undefined
    fmt = _fmt(money, percent)
    return alt.Y(f"{field}:Q", title=title, scale=scale, stack=stack,
                 axis=alt.Axis(format=fmt) if fmt else alt.Undefined)


def _day(field: str = "day", title: str = DAY) -> alt.X:
    # A day is a band (a bar spans its day); utc: no shift by the browser's time zone;
    # ticks a day apart at least (a short range otherwise labels one day several times).
    return alt.X(f"utcyearmonthdate({field}):T", title=title, axis=alt.Axis(tickMinStep=86_400_000))


def _tip(field: str, title: str, *, money: bool = False, percent: bool = False, day: bool = False) -> alt.Tooltip:
    if day:
        return alt.Tooltip(f"utcyearmonthdate({field}):T", title=title)
    return alt.Tooltip(f"{field}:Q", title=title, format=_fmt(money, percent) or ",")


def _positive(df: pl.DataFrame, field: str, log: bool) -> pl.DataFrame:
    # A log axis has no place for zero or less: such rows are left out, not drawn at -inf.
    return df.filter(pl.col(field) > 0) if log else df


def line(df: pl.DataFrame, *, y: str, title: str, y_title: str, x: str = "day", x_title: str = DAY,
         log: bool = False, money: bool = False, percent: bool = False, points: bool = False,
         domain: Sequence[float] | None = None) -> alt.Chart:
    """One series over the days (``x`` a date column)."""
    return alt.Chart(_positive(df, y, log), title=title).mark_line(point=points).encode(
        x=_day(x, x_title), y=yaxis(y, y_title, log=log, money=money, percent=percent, domain=domain),
        tooltip=[_tip(x, x_title, day=True), _tip(y, y_title, money=money, percent=percent)])


def bars(df: pl.DataFrame, series: dict[str, str], *, title: str, y_title: str, grouped: bool = True,
         x: str = "day", x_title: str = DAY) -> alt.Chart:
    """Columns ``series`` (column -> legend name) per day: side by side (``grouped``) or
    stacked."""
    long = df.select(x, *series).unpivot(index=x, variable_name="series", value_name="value").with_columns(
        pl.col("series").replace_strict(series))
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=list(series.values())))
    tips = [_tip(x, x_title, day=True), alt.Tooltip("series:N", title="series"), _tip("value", y_title)]
    chart = alt.Chart(long, title=title).mark_bar()
    if grouped:
        # Side by side needs a band per day: the days as ordered categories, offset by series.
        xenc = alt.X(f"utcyearmonthdate({x}):O", title=x_title, axis=alt.Axis(labelOverlap=True))
        return chart.encode(x=xenc, xOffset=alt.XOffset("series:N", sort=list(series.values())),
                            y=yaxis("value", y_title), color=colour, tooltip=tips)
    return chart.encode(x=_day(x, x_title), y=yaxis("value", y_title), color=colour, tooltip=tips)


def flow_by_kind(kinds: pl.DataFrame, title: str, *, log: bool = False) -> alt.Chart:
    """Per day, issuance stacked above zero by kind and burns stacked below it by kind
    (`dashboards.flows.by_kind`); on a log axis (no negative side) a line per kind,
    burns dashed."""
    daily = kinds.group_by("day", "direction", "kind").agg(pl.col("amount").sum()).sort("day", "direction", "kind")
    colour = alt.Color("kind:N", title="kind", scale=alt.Scale(range=PALETTE))
    tips = [_tip("day", DAY, day=True), alt.Tooltip("direction:N"), alt.Tooltip("kind:N"),
            alt.Tooltip("amount:Q", title="coins", format=",")]
    if log:
        return alt.Chart(_positive(daily, "amount", True), title=title).mark_line(point=True).encode(
            x=_day(), y=yaxis("amount", "coins per day (log)", log=True), color=colour,
            strokeDash=alt.StrokeDash("direction:N", title="direction"), detail="direction:N", tooltip=tips)
    signed = daily.with_columns(
        pl.when(pl.col("direction") == "issued").then(pl.col("amount")).otherwise(-pl.col("amount")).alias("coins"))
    return alt.Chart(signed, title=title).mark_bar().encode(
        x=_day(), y=yaxis("coins", "coins per day (issued +, burned -)"), color=colour, tooltip=tips)


def revenue(daily: pl.DataFrame, title: str, *, log: bool = False) -> alt.LayerChart:
    """Per day, in dollars (cents in ``daily``): gross above zero, refunds below it, net
    as a line. On a log axis (no negative side) refunds are drawn upward, in front."""
    d = daily.select("day", *[(pl.col(c) / 100).alias(c) for c in ("gross", "refunds", "net")])
    y_title = "dollars per day" + (" (log)" if log else " (refunds below zero)")
    long = d.select("day", "gross", (pl.col("refunds") * (1 if log else -1)).alias("refunds")).unpivot(
        index="day", variable_name="series", value_name="dollars")
    names = ["gross", "refunds", "net"]
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=names))
    tips = [_tip("day", DAY, day=True), alt.Tooltip("series:N"), _tip("dollars", "dollars", money=True)]
    stacked = alt.Chart(_positive(long, "dollars", log)).mark_bar().encode(
        x=_day(), y=yaxis("dollars", y_title, log=log, money=True, stack=None if log else "zero"), color=colour,
        tooltip=tips, order=alt.Order("series:N", sort="descending" if log else "ascending"))
    net = alt.Chart(_positive(d.with_columns(pl.lit("net").alias("series")).rename({"net": "dollars"}), "dollars",
                              log)).mark_line(point=True).encode(
        x=_day(), y=yaxis("dollars", y_title, log=log, money=True), color=colour, tooltip=tips)
    return alt.LayerChart(layer=[stacked, net], title=title)


def retention(cohorts: pl.DataFrame, title: str) -> alt.Chart:
    """Share of each cohort (first active day) active N days later. Cells a cohort has
    not reached yet have no row and stay blank, not "0% retained"."""
    # A day a cohort has reached but where none of it was active has no row: 0%, not blank.
    last = cohorts.select((pl.col("cohort") + pl.duration(days=pl.col("offset"))).max()).item()
    grid = cohorts.select("cohort").unique().join(cohorts.select("offset").unique(), how="cross").filter(
        pl.col("cohort") + pl.duration(days=pl.col("offset")) <= last)
    reached = grid.join(cohorts.select("cohort", "offset", "rate"), on=["cohort", "offset"], how="left").with_columns(
        pl.col("rate").fill_null(0.0))
    return alt.Chart(reached, title=title).mark_rect().encode(
        x=alt.X("offset:O", title="days since the first active day"),
        y=alt.Y("utcyearmonthdate(cohort):O", title="cohort (first active day)"),
        color=alt.Color("rate:Q", title="retained", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(format=".0%")),
        tooltip=[_tip("cohort", "cohort", day=True), alt.Tooltip("offset:O", title="day"),
                 _tip("rate", "retained", percent=True)])


def lorenz(lz: pl.DataFrame, title: str) -> alt.LayerChart:
    """The Lorenz curve (``population`` and ``wealth`` shares) over the line of equality."""
    x = alt.X("population:Q", title="share of holders (poorest first)", axis=alt.Axis(format=".0%"))
    y = yaxis("wealth", "share of coins", percent=True)
    tips = [_tip("population", "share of holders", percent=True), _tip("wealth", "share of coins", percent=True)]
    curve = alt.Chart(lz).mark_area(line=True, opacity=0.4).encode(
        x=x, y=y, color=alt.ColorDatum("Lorenz curve", title=None), tooltip=tips)
    equal = alt.Chart(pl.DataFrame({"population": [0.0, 1.0], "wealth": [0.0, 1.0]})).mark_line(
        strokeDash=[6, 4]).encode(x=x, y=y, color=alt.ColorDatum("equality", title=None))
    return alt.LayerChart(layer=[curve, equal], title=title)


def candles(cd: pl.DataFrame, alerts: pl.DataFrame, *, title: str, seconds: float) -> alt.LayerChart:
    """OHLC candles of ``seconds`` each (`metrics.candles`: ``start``, open, high, low,
    close, volume) with the volume as bars along the bottom (its own axis, on the right),
    and ``alerts`` (``time``, ``kind`` "defense" or "detector", ``high`` of their candle,
    ``words``) as markers just above the candle they fell in, their words on hover."""
    us = int(seconds * 1e6)
    c = cd.with_columns(  # the body spans 80% of its interval, centred on it
        (pl.col("start") + pl.duration(microseconds=us // 10)).alias("left"),
        (pl.col("start") + pl.duration(microseconds=us * 9 // 10)).alias("right"),
        (pl.col("start") + pl.duration(microseconds=us // 2)).alias("mid"),
        pl.when(pl.col("close") >= pl.col("open")).then(pl.lit("up")).otherwise(pl.lit("down")).alias("move"))
    time = alt.X("mid:T", title="time (UTC)", scale=alt.Scale(type="utc"))
    price = alt.Y("low:Q", title="price (COIN per coin)", scale=alt.Scale(zero=False))
    move = alt.Color("move:N", title="candle", scale=alt.Scale(domain=["up", "down"], range=["#2ca02c", "#d62728"]))
    tips = [alt.Tooltip("utcyearmonthdatehoursminutes(start):T", title="start (UTC)"),
            *(alt.Tooltip(f"{k}:Q", format=",") for k in ("open", "high", "low", "close", "volume"))]
    base = alt.Chart(c)
    wick = base.mark_rule().encode(x=time, y=price, y2="high:Q", color=move, tooltip=tips)
    body = base.mark_bar().encode(x=alt.X("left:T", scale=alt.Scale(type="utc")), x2="right:T",
                                  y="open:Q", y2="close:Q", color=move, tooltip=tips)
    # Volume in the bottom ~30% of the plot: its axis runs to 3.3 times the largest bar.
    top = float(c["volume"].max() or 1) * 3.3  # type: ignore[arg-type]
    volume = base.mark_bar(opacity=0.35, color="#7f7f7f").encode(
        x=alt.X("left:T", scale=alt.Scale(type="utc")), x2="right:T",
        y=alt.Y("volume:Q", title="coins traded", scale=alt.Scale(domain=[0, top]),
                axis=alt.Axis(orient="right", grid=False)), tooltip=tips)
    prices = [wick, body]
    if alerts.height:
        marks = alerts.select("time", pl.col("kind") + " alert", (pl.col("high") * 1.02).alias("at"), "words")
        kinds = ["defense alert", "detector alert"]
        alert = alt.Chart(marks).mark_point(size=110, filled=True, opacity=1).encode(
            x=alt.X("time:T", scale=alt.Scale(type="utc")), y="at:Q",
            shape=alt.Shape("kind:N", title="alert", scale=alt.Scale(domain=kinds, range=["triangle-down", "cross"])),
            fill=alt.Fill("kind:N", title="alert", scale=alt.Scale(domain=kinds, range=["#ff7f0e", "#d62728"])),
            tooltip=[alt.Tooltip("utcyearmonthdatehoursminutes(time):T", title="time (UTC)"),
                     alt.Tooltip("words:N", title="what happened")])
        prices.append(alert)
    # Volume first, behind the candles (its axis on the right). On a canvas: ~1,100 marks
    # for a year of daily candles, which as SVG elements took a first view 0.15-0.3 s
    # longer (measured alternating; Streamlit itself switches only past 2,000).
    return alt.LayerChart(layer=[volume, alt.LayerChart(layer=prices)], title=title, height=420,
                          usermeta={"embedOptions": {"renderer": "canvas"}}).resolve_scale(y="independent")


def depth(book: pl.DataFrame, title: str) -> alt.Chart:
    """Order book depth (`metrics.order_book`): cumulative coins resting per price, a
    step per side."""
    return alt.Chart(book, title=title).mark_area(interpolate="step-after", opacity=0.5, line=True).encode(
        x=alt.X("price:Q", title="price (COIN per coin)", scale=alt.Scale(zero=False)),
        y=yaxis("depth", "coins resting (cumulative)", stack=None),
        color=alt.Color("side:N", title="side", scale=alt.Scale(domain=["buy", "sell"], range=["#2ca02c", "#d62728"])),
        tooltip=[alt.Tooltip("side:N"), alt.Tooltip("price:Q", format=","),
                 alt.Tooltip("depth:Q", title="coins resting", format=",")])


def sankey(kinds: pl.DataFrame, title: str) -> go.Figure:
    """Coin flow over the period: where coins came from (issuance kinds), whose accounts
    they reached, and what burned them."""
    links = coin_flow(kinds)
    nodes = list(dict.fromkeys(links["source"].to_list() + links["target"].to_list()))
    index = {n: i for i, n in enumerate(nodes)}
    fig = go.Figure(go.Sankey(
        node={"label": nodes, "pad": 14},
        link={"source": [index[s] for s in links["source"].to_list()],
              "target": [index[t] for t in links["target"].to_list()],
              "value": links["amount"].to_list(), "hovertemplate": "%{value:,} coins<extra></extra>"}))
    fig.update_layout(title=title)
    return fig


def fan(df: pl.DataFrame, *, x: str, y: str, by: str, title: str, y_title: str,
        money: bool = False) -> alt.LayerChart:
    """Median and the 5th-95th percentile band of ``y`` across seeds, per ``x``, one
    colour per ``by`` (a source's family of seeds); a source of one seed has no band."""
    stats = (df.group_by(by, x).agg(pl.col(y).median().alias("median"), pl.col(y).quantile(0.05).alias("lo"),
                                     pl.col(y).quantile(0.95).alias("hi"), pl.len().alias("seeds"))
             .sort(by, x))
    keys = list(dict.fromkeys(stats[by].cast(pl.String).to_list()))
    seeded = set(stats.group_by(by).agg(pl.col("seeds").max()).filter(pl.col("seeds") > 1)[by].cast(pl.String))
    # The legend names each band and each median line, in the source's colour.
    names = [n for k in keys for n in ([f"{k}: 90% of seeds"] if k in seeded else []) + [f"{k}: median"]]
    colours = [PALETTE[keys.index(n.rsplit(": ", 1)[0]) % len(PALETTE)] for n in names]
    # Under the chart and untruncated: a source's label is long and the fans stand three abreast.
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=names, range=colours),
                       legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=600))
    s = stats.with_columns(pl.col(by).cast(pl.String).alias("source"))
    xenc = alt.X(f"{x}:Q", title="day of the run")
    tips = [alt.Tooltip("source:N"), alt.Tooltip(f"{x}:Q", title="day of the run"),
            _tip("median", f"median, {y_title}", money=money), _tip("lo", "5th percentile", money=money),
            _tip("hi", "95th percentile", money=money)]
    band = alt.Chart(s.filter(pl.col("source").is_in(list(seeded))).with_columns(
        (pl.col("source") + ": 90% of seeds").alias("series"))).mark_area(opacity=0.2).encode(
        x=xenc, y=yaxis("lo", y_title, money=money), y2="hi:Q", color=colour, tooltip=tips)
    mid = alt.Chart(s.with_columns((pl.col("source") + ": median").alias("series"))).mark_line().encode(
        x=xenc, y=yaxis("median", y_title, money=money), color=colour, tooltip=tips)
    return alt.LayerChart(layer=[band, mid], title=title)


def frontier(points: pl.DataFrame, title: str, *, x_title: str, y_title: str) -> alt.LayerChart:
    """A sweep's variants (``variant``, ``losses``, ``honest``, ``on_frontier``), the
    frontier in red, each labelled with its variant."""
    p = points.with_columns(pl.when(pl.col("on_frontier")).then(pl.lit("on the frontier"))
                            .otherwise(pl.lit("dominated")).alias("where"))
    enc = {"x": alt.X("losses:Q", title=x_title), "y": alt.Y("honest:Q", title=y_title),
           "color": alt.Color("where:N", title=None, scale=alt.Scale(domain=["on the frontier", "dominated"],
                                                                     range=["#d62728", "#7f7f7f"]))}
    dots = alt.Chart(p).mark_point(size=100, filled=True).encode(
        **enc, tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("losses:Q", title=x_title, format=",.1f"),
                        alt.Tooltip("honest:Q", title=y_title, format=",.1f")])
    labels = alt.Chart(p).mark_text(dy=-12).encode(**enc, text="variant:N")
    return alt.LayerChart(layer=[dots, labels], title=title)
