"""The typer application; each command module adds its commands to it."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Fine-tune classifiers on small labeled data, audit robustness, explain them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering 60 options in rich panels took longer than starting up
)
