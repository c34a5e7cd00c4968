"""The Streamlit app: ``coinlab dash`` runs ``streamlit run dashboards/app.py``.

This file is the router: it hands over to the page chosen with `st.navigation`; each
page draws the shared source picker and date range (`dashboards.ui`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run` puts this folder, not the project, on sys.path.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/supply.py", title="Supply", icon=":material/savings:"),
    st.Page("pages/concentration.py", title="Concentration", icon=":material/pie_chart:"),
    st.Page("pages/revenue.py", title="Revenue", icon=":material/payments:"),
    st.Page("pages/pools.py", title="Pools", icon=":material/casino:"),
    st.Page("pages/markets.py", title="Markets", icon=":material/candlestick_chart:"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
]

st.set_page_config(page_title="coinlab", layout="wide")
st.navigation(PAGES).run()
