"""Charts more than one page draws (Plotly figures from the metrics' DataFrames)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from .flows import coin_flow

__all__ = ["fan", "flow_by_kind", "sankey"]


def flow_by_kind(kinds: pl.DataFrame, title: str, *, log: bool = False) -> go.Figure:
    """Per day, issuance stacked above zero by kind and burns stacked below it by kind
    (`dashboards.flows.by_kind`)."""
    fig = go.Figure()
    daily = kinds.group_by("day", "direction", "kind").agg(pl.col("amount").sum()).sort("day")
    for (direction, kind), part in daily.group_by("direction", "kind", maintain_order=True):
        # A log axis has no negative side: there, burns are drawn upward beside issuance.
        sign = -1 if direction != "issued" and not log else 1
        fig.add_bar(x=part["day"].to_list(), y=(sign * part["amount"]).to_list(), name=str(kind))
    fig.update_layout(title=title, barmode="group" if log else "relative", xaxis_title="day (UTC)",
                      yaxis_title="coins per day" + (" (log)" if log else " (issued +, burned -)"),
                      legend_title_text="kind")
    if log:
        fig.update_yaxes(type="log")
    return fig


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


def fan(df: pl.DataFrame, *, x: str, y: str, by: str, title: str, y_title: str) -> go.Figure:
    """Median and the 5th-95th percentile band of ``y`` across seeds, per ``x``, one
    colour per ``by`` (a source's family of seeds)."""
    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    stats = (df.group_by(by, x).agg(pl.col(y).median().alias("median"), pl.col(y).quantile(0.05).alias("lo"),
                                     pl.col(y).quantile(0.95).alias("hi"), pl.len().alias("seeds"))
             .sort(by, x))
    for i, (key, part) in enumerate(stats.group_by(by, maintain_order=True)):
        colour = palette[i % len(palette)]
        xs = part[x].to_list()
        name = str(key[0])
        if part["seeds"].max() not in (None, 1):
            fig.add_scatter(x=xs + xs[::-1], y=part["hi"].to_list() + part["lo"].to_list()[::-1], fill="toself",
                            line={"width": 0}, fillcolor=colour, opacity=0.2, name=f"{name}: 90% of seeds",
                            hoverinfo="skip", showlegend=True)
        fig.add_scatter(x=xs, y=part["median"].to_list(), line={"color": colour}, name=f"{name}: median")
    fig.update_layout(title=title, xaxis_title="day of the run", yaxis_title=y_title)
    return fig
