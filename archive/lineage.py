"""The lineage of a campaign as a networkx `DiGraph`: parent -> child edges, one node a program.

Edges carry `position` (0 for the primary parent, 1+ for crossover's other parents); nodes carry
status, score (absent where the program has none), island, model, generation, edit_kind and
created_at. Inspirations are not edges: they were shown to the model, not inherited from.
"""

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from archive.atomic import atomic_path
from archive.errors import ArchiveError
from archive.store import ArchiveReader

GRAPH_FORMATS = ("graphml", "gexf", "json", "dot")
NODE_KEYS = ("status", "score", "island", "model", "generation", "edit_kind", "created_at")
"""The node attributes, in the order of `ArchiveReader.lineage_rows`'s node rows after the id."""


def build_graph(reader: ArchiveReader) -> nx.DiGraph:
    nodes, edges = reader.lineage_rows()
    campaign = reader.campaign()
    best = reader.best()
    graph = nx.DiGraph(name=campaign.name, task=campaign.task)
    if best is not None:
        graph.graph["best"] = best.id
    add_rows(graph, nodes, edges)
    return graph


def add_rows(graph: nx.DiGraph, nodes: Iterable[tuple], edges: Iterable[tuple[int, int, int]]
             ) -> None:
    """Add node rows (id, then NODE_KEYS; a None leaves its attribute out) and parent edges
    (parent, child, position): shared by the whole graph and `lineage_facts`'s slice of it, so
    the two cannot differ in what a node or an edge says."""
    graph.add_nodes_from(
        (row[0], {k: v for k, v in zip(NODE_KEYS, row[1:], strict=True) if v is not None})
        for row in nodes
    )
    graph.add_edges_from((parent, child, {"position": pos}) for parent, child, pos in edges)


def score_of(graph: nx.DiGraph, node: int) -> float:
    """A node's score, -inf where it has none (it failed, or is still pending)."""
    return graph.nodes[node].get("score", -math.inf)


def primary_parent(graph: nx.DiGraph, node: int) -> int | None:
    for parent, _, pos in graph.in_edges(node, data="position"):
        if pos == 0:
            return parent
    return None


def ancestry(graph: nx.DiGraph, node: int) -> list[int]:
    """The chain of primary parents from the seed down to `node`, both ends included."""
    if node not in graph:
        raise ArchiveError(f"no program {node} in the lineage graph")
    path = [node]
    while (parent := primary_parent(graph, path[-1])) is not None:
        path.append(parent)
    return path[::-1]


def descendants(graph: nx.DiGraph, node: int) -> set[int]:
    return nx.descendants(graph, node)


def best_lineage(graph: nx.DiGraph) -> list[int]:
    best = graph.graph.get("best")
    return ancestry(graph, best) if best is not None else []


def best_below(graph: nx.DiGraph) -> dict[int, float]:
    """For each program, the best score among its descendants (-inf for a leaf)."""
    below: dict[int, float] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        below[node] = max(
            (max(score_of(graph, c), below[c]) for c in graph.successors(node)), default=-math.inf
        )
    return below


def stepping_stones(graph: nx.DiGraph, within: Iterable[int] | None = None) -> list[int]:
    """Programs that scored below their primary parent (or failed) yet have a descendant that
    beats that parent: the detours a greedy hill-climber would have thrown away."""
    below = best_below(graph)
    stones = []
    for node in graph if within is None else within:
        parent = primary_parent(graph, node)
        if parent is None:
            continue
        if paid_off(score_of(graph, node), score_of(graph, parent), below[node]):
            stones.append(node)
    return sorted(stones)


def paid_off(score: float, parent_score: float, best_below: float) -> bool:
    """The stepping-stone test: a program scored below its primary parent, yet something
    descended from it (best score `best_below`) beat that parent."""
    return score < parent_score < best_below


@dataclass(frozen=True)
class BranchingStats:
    programs: int
    seeds: int
    leaves: int
    expanded: int
    """Programs with at least one child."""
    mean_children: float
    """Over expanded programs."""
    max_children: int
    crossovers: int
    """Programs with more than one parent."""
    max_generation: int
    mean_generation: float


def branching_stats(graph: nx.DiGraph) -> BranchingStats:
    n = graph.number_of_nodes()
    out = [d for _, d in graph.out_degree()]
    expanded = [d for d in out if d]
    generations = [g for _, g in graph.nodes(data="generation", default=0)]
    return BranchingStats(
        programs=n,
        seeds=sum(1 for _, d in graph.in_degree() if d == 0),
        leaves=out.count(0),
        expanded=len(expanded),
        mean_children=sum(expanded) / len(expanded) if expanded else 0.0,
        max_children=max(out, default=0),
        crossovers=sum(1 for _, d in graph.in_degree() if d > 1),
        max_generation=max(generations, default=0),
        mean_generation=sum(generations) / n if n else 0.0,
    )


def write_graph(graph: nx.DiGraph, path: str | Path, fmt: str) -> None:
    """Write the graph atomically in one of GRAPH_FORMATS."""
    if fmt not in GRAPH_FORMATS:
        raise ArchiveError(f"unknown graph format {fmt!r}: use one of {', '.join(GRAPH_FORMATS)}")
    with atomic_path(path) as tmp:
        if fmt == "graphml":
            nx.write_graphml(graph, tmp)
        elif fmt == "gexf":
            nx.write_gexf(graph, tmp)
        elif fmt == "json":
            tmp.write_text(json.dumps(nx.node_link_data(graph, edges="edges"), indent=1))
        else:
            tmp.write_text(to_dot(graph))


_DOT_FILL = {"ok": "#c8e6c9", "pending": "#ffffff"}
_DOT_FAILED = "#ffcdd2"


def to_dot(graph: nx.DiGraph) -> str:
    """Graphviz DOT with status colours, the best lineage outlined, crossover edges dashed."""
    on_best = set(best_lineage(graph))
    lines = [
        "digraph lineage {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    for node, data in graph.nodes(data=True):
        score = data.get("score")
        label = f"#{node}\\n{score:.6g}" if score is not None else f"#{node}\\n{data['status']}"
        attrs = [f'label="{label}"',
                 f'fillcolor="{_DOT_FILL.get(data["status"], _DOT_FAILED)}"']
        if node in on_best:
            attrs += ['color="#d4a017"', "penwidth=3"]
        lines.append(f'  {node} [{", ".join(attrs)}];')
    for parent, child, pos in graph.edges(data="position"):
        style = " [style=dashed]" if pos else ""
        lines.append(f"  {parent} -> {child}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"
