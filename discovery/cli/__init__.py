"""`discover`: the command line, a module per command group. Importing the groups registers
their commands, in the order `discover --help` lists them: campaigns first."""

from discovery.cli import (  # noqa: F401 (registers commands)
    campaigns,
    inspect,
    models,
    tasks,
    view,
)
from discovery.cli.common import app

__all__ = ["app"]
