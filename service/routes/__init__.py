"""The routers, one module per area of DESIGN.md section 6."""

__all__: list[str] = []
