"""ADAS's published agents as candidate programs of the agent tasks.

ADAS (https://github.com/ShengranHu/ADAS) publishes each search's archive as `results/*.json`: a
list of agents, each with its `name`, `thought`, `generation`, `fitness` and the `code` of its
`forward(self, taskInfo)`. ADAS ran that code by exec'ing it beside its own `LLMAgentBase`,
`Info` and `AgentSystem`; here `agent_api` gives the same names, so the code goes into a
candidate file unchanged, between the imports and the `solve` entry every agent task calls:

    python evaluators/tasks/agents/_shared/adas_archive.py results/arc_gpt3.5_results.json out/
    discover eval arc out/*.py --agent-model openai/gpt-3.5-turbo-0125

(ARC archives on the `arc` task; MGSM ones on `gsm8k` or any math word-problem task.)
"""

import argparse
import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

HEADER = '''"""ADAS's agent "{name}", from {source} (https://github.com/ShengranHu/ADAS,
Apache-2.0), its code unchanged. Generation {generation}; ADAS's fitness: {fitness}.

{thought}
"""
from agent_api import Info, LLMAgentBase, run  # noqa: F401


# EVOLVE-BLOCK-START
'''
FOOTER = '''# EVOLVE-BLOCK-END


def solve(agent):
    return run({function}, agent)
'''


class ArchiveError(ValueError):
    """An archive entry that is not an ADAS agent (no code, or code that defines no one
    function)."""


def candidate(entry: dict[str, Any], source: str) -> str:
    """One archive entry as a candidate program: ADAS's `code` verbatim, its name, generation,
    fitness and thought in the module docstring."""
    code = entry.get("code")
    if not isinstance(code, str):
        raise ArchiveError(f"{source}: the entry {entry.get('name')!r} has no code")
    try:
        functions = [node.name for node in ast.parse(code).body
                     if isinstance(node, ast.FunctionDef)]
    except SyntaxError as error:
        raise ArchiveError(f"{source}: the code of {entry.get('name')!r} is not Python "
                           f"({error.msg}, line {error.lineno})") from error
    if len(functions) != 1:  # ADAS's rule: exactly one thing in the namespace
        raise ArchiveError(f"{source}: the code of {entry.get('name')!r} defines "
                           f"{len(functions)} functions; ADAS runs code that defines one")
    fields = {key: str(entry.get(key, "?")).replace('"""', "'''").replace("\\", "\\\\")
              for key in ("name", "generation", "fitness", "thought")}
    return (HEADER.format(source=source, **fields) + code.rstrip() + "\n"
            + FOOTER.format(function=functions[0]))


def write_candidates(archive: Path, out: Path) -> list[Path]:
    """Every agent of an ADAS archive file as `out/NN_<name>.py`, in the archive's order."""
    entries = json.loads(archive.read_text(encoding="utf-8"))
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ArchiveError(f"{archive}: not an ADAS archive (a JSON list of agents)")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, entry in enumerate(entries):
        slug = re.sub(r"[^a-z0-9]+", "_", str(entry.get("name", "agent")).lower()).strip("_")
        path = out / f"{index:02d}_{slug or 'agent'}.py"
        path.write_text(candidate(entry, archive.name), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write each agent of an ADAS archive "
                                     "(results/*.json) as a candidate program.")
    parser.add_argument("archive", type=Path, help="ADAS's results/<domain>_results.json")
    parser.add_argument("out", type=Path, help="the folder to write the programs into")
    args = parser.parse_args(argv)
    try:
        paths = write_candidates(args.archive, args.out)
    except (OSError, ValueError) as error:  # ArchiveError and JSON errors are ValueErrors
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(paths)} programs in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
