"""The `coinlab` command line."""
