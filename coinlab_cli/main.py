"""`coinlab`: one Typer app; each area registers its commands from its own module."""

from __future__ import annotations

import typer

from . import (
    bench_cmds,
    config_cmds,
    dash_cmds,
    demo_cmds,
    export_cmds,
    forecast_cmds,  # noqa: F401 - adds `sim backtest` and `sim forecast` to sim_app
    ledger_cmds,
    service_cmds,
    sim_cmds,
)

app = typer.Typer(
    name="coinlab",
    help="coinlab: production ledger, brand-coin market, economy simulator and dashboards.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

ledger_cmds.register(app)
config_cmds.register(app)
service_cmds.register(app)
demo_cmds.register(app)
sim_cmds.register(app)
export_cmds.register(app)
dash_cmds.register(app)
bench_cmds.register(app)
# Other areas add one line each here: `<area>_cmds.register(app)`.

if __name__ == "__main__":
    app()
