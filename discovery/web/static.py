"""`discover view RUN --out DIR`: the same page as files that open from disk (file://).

A page opened from disk may not fetch() its neighbours, so data travels as scripts: `data.js`
assigns the payload to `window.VIEW_DATA`, and `nodes/K.js` hands programs K*100 .. K*100+99
to `window.viewNodes(...)` when the page adds that script on a click, and `iterations/K.js`
the iterations numbered K*100 .. K*100+99 that made no program (`window.viewIterations`). The
folder is marked as a
view (MARKER), so that writing again replaces an earlier export and never a folder of
something else.
"""

import shutil
from collections.abc import Callable
from itertools import groupby
from pathlib import Path

from discovery.web.data import (
    NODE_CHUNK,
    ViewReader,
    campaign_data,
    dumps,
    iteration_details,
    node_details,
    report_images,
    transcripts,
)
from discovery.web.server import ASSETS, ViewError, asset

MARKER = ".discover-view"


def write_static(reader: ViewReader, out: Path,
                 say: Callable[[str], None] = lambda _: None) -> int:
    """Write the view of `reader`'s campaign into `out`; returns the number of programs."""
    if out.exists() and not out.is_dir():
        raise ViewError(f"--out {out} is a file: name a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ViewError(f"--out {out} is a non-empty folder that is not a view: name an empty "
                        "or new folder (an earlier view's folder is replaced)")
    for old in ("nodes", "iterations", "report"):
        shutil.rmtree(out / old, ignore_errors=True)
    (out / "nodes").mkdir(parents=True)
    (out / "iterations").mkdir()
    (out / MARKER).write_text("written by `discover view --out`; writing again replaces it\n")
    run_dir = reader.path.parent
    images = report_images(run_dir)
    if images:
        (out / "report").mkdir()
        for image in images:
            shutil.copyfile(run_dir / image, out / image)
    data = campaign_data(reader, images, static=True)
    for name in ASSETS:
        (out / name).write_bytes(asset(name))
    (out / "data.js").write_text(f"window.VIEW_DATA = {dumps(data)};\n")
    index = transcripts(reader)
    for chunk, members in groupby(data["no_program"]["n"], key=lambda n: n // NODE_CHUNK):
        details = iteration_details(reader, list(members), index)
        (out / "iterations" / f"{chunk}.js").write_text(
            f"window.viewIterations({dumps(details)});\n")
    ids, iterations = data["nodes"]["id"], reader.iteration_numbers()
    for chunk, members in groupby(ids, key=lambda i: i // NODE_CHUNK):
        details = node_details(reader, list(members), index, iterations)
        (out / "nodes" / f"{chunk}.js").write_text(f"window.viewNodes({dumps(details)});\n")
        if chunk % 100 == 99:
            say(f"{chunk * NODE_CHUNK + NODE_CHUNK:,} of {len(ids):,} programs written")
    return len(ids)
