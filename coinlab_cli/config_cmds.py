"""Economy config commands: `config show [--scenario FILE]`, `config diff A B`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ledger.economy.config import DEFAULT_PATH, ConfigError, EconomyConfig, config_diff, load_config

__all__ = ["register", "to_toml"]

console = Console()
err_console = Console(stderr=True)
config_app = typer.Typer(help="Show and compare economy configs (data/economy.toml + scenarios).",
                         no_args_is_help=True)

BaseOption = Annotated[Path, typer.Option("--base", help="The base config file.")]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A config table as TOML (values first, then sub-tables as [a.b] sections)."""
    lines = [f"{_key(k)} = {_toml_value(v)}" for k, v in data.items()
             if v is not None and not isinstance(v, dict)]
    out = "\n".join(lines)
    for k, v in data.items():
        if isinstance(v, dict):
            name = f"{prefix}.{_key(k)}" if prefix else _key(k)
            body = to_toml(v, name)
            if any(not isinstance(x, dict) for x in v.values()) or not v:
                body = f"[{name}]\n{body}" if body else f"[{name}]"
            out += ("\n\n" if out else "") + body
    return out.strip()


def _load(scenario: Path | None, base: Path) -> EconomyConfig:
    try:
        return load_config(base, scenario=scenario)
    except ConfigError as err:
        err_console.print(f"[red]{err}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None


@config_app.command("show")
def show(
    scenario: Annotated[Path | None, typer.Option("--scenario", "-s", help="Scenario overrides.")] = None,
    base: BaseOption = DEFAULT_PATH,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of TOML.")] = False,
) -> None:
    """Print the effective config: the base file with the scenario's overrides."""
    data = _load(scenario, base).to_dict()
    typer.echo(json.dumps(data, indent=2) if as_json else to_toml(data))


@config_app.command("diff")
def diff(
    a: Annotated[Path, typer.Argument(help="A scenario (or full config) file; 'default' for the base.")],
    b: Annotated[Path, typer.Argument(help="Another one.")],
    base: BaseOption = DEFAULT_PATH,
) -> None:
    """What B changes relative to A (each applied over the base config)."""
    cfg_a = _load(None if str(a) == "default" else a, base)
    cfg_b = _load(None if str(b) == "default" else b, base)
    changes = config_diff(cfg_a, cfg_b)
    if not changes:
        console.print("no differences")
        return
    table = Table("key", str(a), str(b))
    for key, va, vb in changes:
        table.add_row(key, "-" if va is None else json.dumps(va), "-" if vb is None else json.dumps(vb))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
