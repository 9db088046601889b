"""What a program's lineage says about it, as facts that the proposal prompt and `discover
lineage` both show: its ancestry, newest step first (the edit kind, what the edit changed, the
score it reached and the change from its parent, stepping stones marked), and the children of it
that failed or scored no higher, with their reasons.

The whole lineage graph takes 0.8 s to build on a 100k-program archive, too slow to build for
every proposal, so the facts are read from a *slice* of it: the program's ancestry and its
children, read by indexed queries with `lineage.add_rows`, so its nodes and edges are those of
`lineage.build_graph` (a test holds the slice to be a subgraph of the whole graph), and the graph
functions (`ancestry`, `score_of`, `paid_off`) run on it unchanged. The one thing a slice lacks is
the best score below a program, which the stepping-stone test needs: a later step of the ancestry
settles it for most dips, a recursive query over the program's descendants for the rest.
"""

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import networkx as nx

from archive.lineage import add_rows, ancestry, paid_off, primary_parent, score_of
from archive.pyparse import parse_python
from archive.store import ArchiveReader


class Named(Protocol):
    """Design notes as `lineage_facts`'s `notes` returns them (the archive knows nothing of how
    a design names itself): only the name is shown."""

    name: str


@dataclass(frozen=True)
class Step:
    """One program of a lineage: the edit that made it from its primary parent, and what that
    did to the score."""

    id: int
    edit_kind: str
    status: str
    score: float | None
    parent_score: float | None
    """Its primary parent's score; None for a seed, or a parent with no score."""
    change: str
    """The proposal's design name (quoted), else `summarise_change`'s line."""
    reason: str | None = None
    """Why it failed, where it did not evaluate ok."""
    stepping_stone: bool = False
    """It scored below its parent (or failed), yet a descendant of it beat that parent."""

    @property
    def delta(self) -> float | None:
        """The score change from the parent; None where either has no score."""
        if self.score is None or self.parent_score is None:
            return None
        return self.score - self.parent_score

    def outcome(self) -> str:
        """'0.95 (+0.012)', or for a failed program 'crashed: the reason'."""
        if self.status != "ok":
            return f"{self.status}: {self.reason}" if self.reason else self.status
        delta = self.delta
        score = "-" if self.score is None else f"{self.score:.6g}"
        return score if delta is None else f"{score} ({delta:+.4g})"


@dataclass(frozen=True)
class ChildCounts:
    """A program's children by what they did: scored higher than it, scored no higher,
    failed, or are still being evaluated."""

    better: int
    no_better: int
    failed: int
    pending: int


@dataclass(frozen=True)
class LineageFacts:
    focus: int
    seed: int
    """The first program of the ancestry (it has no primary parent)."""
    steps: tuple[Step, ...]
    """The focus's own step first, then its parent's, and so on towards the seed."""
    older: int
    """Steps of the ancestry beyond those gathered."""
    setbacks: tuple[Step, ...]
    """The newest children of the focus (made by editing it: it is their primary parent) that
    failed or scored no higher, newest first."""
    children: ChildCounts


def lineage_slice(reader: ArchiveReader, focus: int) -> nx.DiGraph:
    """The part of `build_graph(reader)` that holds the focus's ancestry and its children (by
    any parent link, crossovers too), with the edges between them: a few indexed queries."""
    ids = [*reader.ancestry(focus), *reader.children(focus)]
    wanted = set(ids)
    nodes, edges = reader.lineage_rows_of(ids)
    graph = nx.DiGraph()
    add_rows(graph, nodes, [e for e in edges if e[0] in wanted])
    return graph


def best_below(reader: ArchiveReader, program: int) -> float:
    """The best score among the program's descendants, -inf if none has one: what
    `lineage.best_below(build_graph(reader))[program]` says, read by one recursive query."""
    best = reader.best_below(program)
    return -math.inf if best is None else best


def lineage_facts(reader: ArchiveReader, focus: int, depth: int, *, setbacks: int = 5,
                  notes: Callable[[str], Named | None] = lambda code: None) -> LineageFacts:
    """The facts about `focus`: its `depth` newest ancestry steps and its `setbacks` newest
    children that failed or scored no higher. `notes` reads a program's design notes from its
    code (`discovery.search.edits.design_notes`): a step shows its design's name where it has
    one, else `summarise_change`'s line."""
    graph = lineage_slice(reader, focus)
    path = ancestry(graph, focus)[::-1]  # newest first
    kept = path[:depth]
    bar = score_of(graph, focus)
    by_status: dict[str, list[int]] = {"better": [], "no_better": [], "failed": [], "pending": []}
    edited = [c for c in graph.successors(focus) if primary_parent(graph, c) == focus]
    for child in sorted(edited, reverse=True):  # not crossovers that took it as the other
        status = graph.nodes[child]["status"]
        kind = status if status == "pending" else "failed" if status != "ok" \
            else "better" if score_of(graph, child) > bar else "no_better"
        by_status[kind].append(child)
    shown = sorted(by_status["failed"] + by_status["no_better"], reverse=True)[:setbacks]
    programs = {p.id: p for p in reader.programs([*path[:depth + 1], *shown])}

    def step(node: int, stone: bool = False) -> Step:
        program, parent = programs[node], primary_parent(graph, node)
        name = notes(program.code)
        reason = None
        if program.status != "ok":
            reason = next((e.reason for e in reversed(reader.evaluations(node)) if e.final), None)
        return Step(
            id=node, edit_kind=program.edit_label, status=program.status,
            score=program.score,
            parent_score=None if parent is None else graph.nodes[parent].get("score"),
            change=f'"{name.name}"' if name is not None else summarise_change(
                None if parent is None else programs[parent].code, program.code, program.diff),
            reason=reason, stepping_stone=stone)

    def stone(i: int) -> bool:
        """The stepping-stone test on the slice: a later step of the ancestry is a descendant,
        so it settles most dips without reading the rest of the descendants."""
        node, parent = path[i], primary_parent(graph, path[i])
        if parent is None:
            return False
        score, parent_score = score_of(graph, node), score_of(graph, parent)
        if not score < parent_score:
            return False
        later = max((score_of(graph, n) for n in path[:i]), default=-math.inf)
        return paid_off(score, parent_score, later) or \
            paid_off(score, parent_score, best_below(reader, node))

    return LineageFacts(
        focus=focus, seed=path[-1], steps=tuple(step(n, stone(i)) for i, n in enumerate(kept)),
        older=len(path) - len(kept), setbacks=tuple(step(c) for c in shown),
        children=ChildCounts(**{kind: len(ids) for kind, ids in by_status.items()}))


def summarise_change(parent_code: str | None, code: str, diff: str | None) -> str:
    """One line on what an edit changed, by the definitions (functions, methods, classes,
    assigned names) whose text differs between the parent's code and this one, with the line
    counts of the archive's diff: 'changed solve, STEP; added helper (+12 -3 lines)'.
    Deterministic, so a prompt that shows it replays from a transcript."""
    if parent_code is None:
        return "the starting program"
    if parent_code == code:
        return "the same code as its parent"
    old, new = _definitions(parent_code), _definitions(code)
    parts = [f"{verb} {_some(names)}" for verb, names in (
        ("changed", [n for n in new if n in old and new[n] != old[n]]),
        ("added", [n for n in new if n not in old]),
        ("removed", [n for n in old if n not in new])) if names] \
        if old is not None and new is not None else []
    body = (diff or "").splitlines()[2:]  # after the ---/+++ header
    counts = (f"+{sum(line.startswith('+') for line in body)} "
              f"-{sum(line.startswith('-') for line in body)} lines")
    return f"{'; '.join(parts)} ({counts})" if parts else counts


def _definitions(code: str) -> dict[str, str] | None:
    """The text of each of the module's functions, classes' methods, classes (the lines around
    their methods) and assigned names, by name, in source order; None where the code does not
    parse."""
    try:
        body = parse_python(code).body
    except (SyntaxError, ValueError):
        return None
    lines = code.splitlines()
    found: dict[str, list[int]] = {}
    for node in body:
        if isinstance(node, ast.ClassDef):
            methods = {f"{node.name}.{m.name}": _lines(m) for m in node.body
                       if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)}
            found[node.name] = sorted(set(_lines(node)).difference(*methods.values()))
            found.update(methods)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = _lines(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):  # a name assigned twice: both statements
                    found[target.id] = [*found.get(target.id, []), *_lines(node)]
    return {name: "\n".join(text for i in numbers if (text := lines[i - 1].rstrip()))
            for name, numbers in found.items()}  # blank lines do not count as a change


def _lines(node: ast.stmt) -> list[int]:
    """A statement's line numbers, a definition's decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return list(range(min([node.lineno, *(d.lineno for d in decorators)]), node.end_lineno + 1))


def _some(names: Sequence[str], shown: int = 4) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")
