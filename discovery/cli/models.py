"""`models`: which models a config names and whether each answers."""

from pathlib import Path
from typing import Annotated

import typer

from discovery import sanitize, views
from discovery.cli.common import app, console, friendly


@app.command()
@friendly
def models(
    config: Annotated[Path | None, typer.Option(
        help="A TOML file whose [[models]] entries to check (default: the embedded model).",
    )] = None,
    test: Annotated[str | None, typer.Option(
        help="Send one prompt to this model and show the answer, latency and tokens.")] = None,
    api_base: Annotated[str | None, typer.Option(
        help="With --test: an OpenAI-compatible endpoint (name the model openai/<name>).",
    )] = None,
    api_key_env: Annotated[str | None, typer.Option(
        help="With --test: the environment variable that holds the key.")] = None,
    prompt: Annotated[str, typer.Option(help="With --test: the prompt.")] =
        "Write a Python function add(a, b) that returns a + b. Reply with one code block.",
) -> None:
    """List the configured models and whether each answers (exit 1 when one is not usable);
    or --test one of them."""
    from discovery.loop.preflight import check  # pydantic, litellm: only when it runs
    from discovery.models import load_specs, make_client
    from discovery.models.base import CallFailed, ModelError, ModelSpec

    specs = load_specs(config)
    if test is not None:
        spec = next((s for s in specs if s.name == test), ModelSpec(name=test))
        overrides = {k: v for k, v in (("api_base", api_base), ("api_key_env", api_key_env))
                     if v is not None}
        client = make_client(spec.model_copy(update=overrides))
        try:
            answer = client.complete([{"role": "user", "content": prompt}], purpose="test")
        except CallFailed as exc:
            raise ModelError(str(exc)) from exc
        console.print(views.model_test_view(answer))
        return
    rows, unusable = [], []
    for spec in specs:
        try:
            status = check(spec)
        except (ModelError, CallFailed) as exc:
            status = f"not usable: {exc}"
            unusable.append(f"{spec.name}: {exc}")
        rows.append((spec, status))
    console.print(views.models_table(rows))
    if unusable:  # a script (or a person) asking "can I start?" gets no
        typer.echo(f"error: {len(unusable)} of {len(rows)} models not usable; "
                   f"{sanitize.terminal(unusable[0])}", err=True)
        raise typer.Exit(1)
