"""The `coinlab` command line."""

__all__: list[str] = []
