"""The dashboards: the warehouse (DuckDB views over Parquet), the metrics library shared
with the notebooks, the production export and the Streamlit app."""

__all__: list[str] = []
