"""Seeing a campaign in a browser: `view` (a local page, or static files with `--out`)."""

from pathlib import Path
from typing import Annotated

import typer

from discovery.cli.common import RunArg, app, console, friendly, open_run


@app.command()
@friendly
def view(
    ctx: typer.Context, run: RunArg,
    port: Annotated[int, typer.Option(
        min=0, max=65535, help="Port on 127.0.0.1 (0: a free one).")] = 0,
    out: Annotated[Path | None, typer.Option(
        help="Write the page as static files into this folder instead (open DIR/index.html).",
    )] = None,
) -> None:
    """The lineage tree, each program's code, diffs, metrics and model calls, and the
    campaign's charts, in a browser; it follows a running campaign as iterations land."""
    from discovery.web.data import ViewReader  # http.server and the view's data: only here
    from discovery.web.server import ViewServer
    from discovery.web.static import write_static

    with open_run(ctx, run) as found:  # the CLI's one-line error for an unknown run
        archive = found.path
    if out is not None:
        with ViewReader(archive) as reader:
            count = write_static(reader, out, say=console.print)
        console.print(f"wrote the view of {count:,} programs to {out}: open "
                      f"{(out / 'index.html').resolve().as_uri()}", soft_wrap=True, markup=False)
        return
    server = ViewServer(archive, port)
    # one unwrapped line: scripts and tests read the URL from it
    console.print(f"serving {archive} at {server.url} (Ctrl-C to stop)", soft_wrap=True,
                  markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        server.server_close()
