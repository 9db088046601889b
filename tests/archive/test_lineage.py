import json

import networkx as nx
import pytest
from helpers import add_scored

from archive import ArchiveError, ArchiveReader
from archive.lineage import (
    ancestry,
    best_lineage,
    branching_stats,
    build_graph,
    descendants,
    stepping_stones,
    to_dot,
    write_graph,
)


@pytest.fixture
def tree(writer):
    """
        1 (0.5) ─┬─ 2 (0.3) ── 4 (0.9, best)
                 ├─ 3 (0.6) ─┐
                 │           5 (0.7, crossover of 3 and 2)
                 └─ 6 (crashed) ── 7 (0.8)
        8 (0.1, a second seed)
    """
    ids = {}
    ids[1] = add_scored(writer, 1.0, 0.5, model="m1")
    ids[2] = add_scored(writer, 2.0, 0.3, parents=[ids[1]], model="m2")
    ids[3] = add_scored(writer, 3.0, 0.6, parents=[ids[1]], island=1)
    ids[4] = add_scored(writer, 4.0, 0.9, parents=[ids[2]])
    ids[5] = add_scored(writer, 5.0, 0.7, parents=[ids[3], ids[2]])
    ids[6] = add_scored(writer, 6.0, None, parents=[ids[1]], status="crashed")
    ids[7] = add_scored(writer, 7.0, 0.8, parents=[ids[6]])
    ids[8] = add_scored(writer, 8.0, 0.1)
    assert ids == {i: i for i in range(1, 9)}  # ids are assigned in order
    return build_graph(ArchiveReader(writer.path))


def test_graph_nodes_and_edges(tree):
    assert tree.number_of_nodes() == 8 and tree.number_of_edges() == 7
    assert tree.nodes[4] | {"created_at": 0} == {
        "status": "ok", "score": 0.9, "island": 0, "generation": 2, "created_at": 0}
    assert tree.nodes[6]["status"] == "crashed" and "score" not in tree.nodes[6]
    assert tree.nodes[2]["model"] == "m2"
    assert tree.edges[2, 5]["position"] == 1 and tree.edges[3, 5]["position"] == 0
    assert tree.graph["best"] == 4


def test_ancestry_descendants_best_lineage(tree, writer):
    assert ancestry(tree, 5) == [1, 3, 5]
    assert ancestry(tree, 5) == writer.ancestry(5)  # the SQL and graph views agree
    assert descendants(tree, 2) == {4, 5}
    assert best_lineage(tree) == [1, 2, 4]
    with pytest.raises(ArchiveError, match="no program 99"):
        ancestry(tree, 99)


def test_stepping_stones_are_dips_that_paid_off(tree):
    # 2 scored below its parent 1 yet led to 4 (0.9 > 0.5); 6 crashed yet led to 7 (0.8 > 0.5).
    # 3 improved on its parent (not a dip); 8 is a seed.
    assert stepping_stones(tree) == [2, 6]
    assert stepping_stones(tree, best_lineage(tree)) == [2]


def test_branching_stats(tree):
    stats = branching_stats(tree)
    assert (stats.programs, stats.seeds, stats.leaves, stats.expanded) == (8, 2, 4, 4)
    assert stats.max_children == 3 and stats.crossovers == 1
    assert stats.mean_children == pytest.approx(7 / 4)
    assert stats.max_generation == 2


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "json", "dot"])
def test_exports_read_back(tree, tmp_path, fmt):
    out = tmp_path / f"g.{fmt}"
    write_graph(tree, out, fmt)
    if fmt == "graphml":
        back = nx.read_graphml(out, node_type=int)
        assert back.nodes[4]["score"] == 0.9 and back.nodes[6]["status"] == "crashed"
    elif fmt == "gexf":
        back = nx.read_gexf(out, node_type=int)
        assert back.nodes[4]["score"] == 0.9
    elif fmt == "json":
        back = nx.node_link_graph(json.loads(out.read_text()), edges="edges")
        assert back.nodes[4]["score"] == 0.9
    else:
        text = out.read_text()
        assert text.startswith("digraph lineage {") and "  2 -> 5 [style=dashed];" in text
        assert text.count("penwidth=3") == 3  # the best lineage, 1 -> 2 -> 4
        return
    assert set(back.edges) == set(tree.edges)


def test_unknown_format_writes_nothing(tree, tmp_path):
    out = tmp_path / "graphs"
    out.mkdir()
    with pytest.raises(ArchiveError, match="unknown graph format 'png'"):
        write_graph(tree, out / "g.png", "png")
    assert list(out.iterdir()) == []


def test_dot_marks_failures(tree):
    assert '6 [label="#6\\ncrashed", fillcolor="#ffcdd2"];' in to_dot(tree)
