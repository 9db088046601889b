import difflib
import json
import random
from types import SimpleNamespace

import networkx as nx
import pytest
from helpers import add_scored, seed_code

from archive import ArchiveError, ArchiveReader, EvaluationResult, NewProgram
from archive.lineage import (
    ancestry,
    best_below,
    best_lineage,
    branching_stats,
    build_graph,
    descendants,
    primary_parent,
    stepping_stones,
    to_dot,
    write_graph,
)
from archive.lineage_facts import best_below as best_below_query
from archive.lineage_facts import lineage_facts, lineage_slice, summarise_change


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


def _agrees_with_the_graph(reader: ArchiveReader) -> None:
    """The slice read for a proposal is the whole graph's subgraph, and the facts drawn from it
    say what the graph functions say (ancestry, primary children, stepping stones)."""
    graph = build_graph(reader)
    below = best_below(graph)
    for node in graph:
        part = lineage_slice(reader, node)
        whole = graph.subgraph(part)
        assert dict(part.nodes(data=True)) == dict(whole.nodes(data=True))
        assert set(part.edges(data="position")) == set(whole.edges(data="position"))
        assert best_below_query(reader, node) == below[node]
        facts = lineage_facts(reader, node, len(graph))
        path = ancestry(graph, node)
        assert [s.id for s in facts.steps] == path[::-1] and facts.seed == path[0]
        assert {s.id for s in facts.steps if s.stepping_stone} == \
            set(stepping_stones(graph, path))
        edited = [c for c in graph.successors(node) if primary_parent(graph, c) == node]
        counts = facts.children
        assert counts.better + counts.no_better + counts.failed + counts.pending == len(edited)


def test_lineage_facts_agree_with_the_graph(tree, writer):
    _agrees_with_the_graph(ArchiveReader(writer.path))


def test_lineage_facts_agree_with_the_graph_on_a_random_archive(writer):
    rng = random.Random(3)
    ids: list[int] = []
    for i in range(150):
        parents = [rng.choice(ids)] if ids and rng.random() < 0.9 else []
        if parents and rng.random() < 0.2:
            parents.append(rng.choice(ids))  # a crossover; sometimes of a program with itself
        status = rng.choice(["ok"] * 6 + ["crashed", "invalid"])
        pid = writer.add_program(NewProgram(seed_code(float(i)), parents=tuple(dict.fromkeys(
            parents))))
        if rng.random() < 0.95:  # the rest stay pending
            writer.record_evaluation(pid, EvaluationResult(
                "full", status, score=rng.random() if status == "ok" else None, reason="boom"))
        ids.append(pid)
    _agrees_with_the_graph(ArchiveReader(writer.path))


def test_lineage_facts_tell_each_step_and_the_setbacks(tree, writer):
    reader = ArchiveReader(writer.path)
    facts = lineage_facts(reader, 4, 8)
    assert [(s.id, s.edit_kind, s.outcome(), s.stepping_stone) for s in facts.steps] == [
        (4, "-", "0.9 (+0.6)", False), (2, "-", "0.3 (-0.2)", True), (1, "-", "0.5", False)]
    assert facts.steps[0].change == "changed VALUE (+1 -1 lines)"
    assert facts.steps[-1].change == "the starting program"
    crashed = lineage_facts(reader, 7, 1)
    assert [s.id for s in crashed.steps] == [7] and crashed.older == 2 and crashed.seed == 1
    assert crashed.steps[0].outcome() == "0.8"  # its parent has no score to compare with
    seed = lineage_facts(reader, 1, 1)  # children: 2 (0.3), 3 (0.6), 6 (crashed)
    assert (seed.children.better, seed.children.no_better, seed.children.failed) == (1, 1, 1)
    assert [(s.id, s.outcome()) for s in seed.setbacks] == [(6, "crashed: boom"),
                                                            (2, "0.3 (-0.2)")]
    assert lineage_facts(reader, 2, 1).setbacks == ()  # 5 is 3's edit, crossed with 2
    named = lineage_facts(reader, 4, 1, notes=lambda code: SimpleNamespace(name="Four")
                          if "4.0" in code else None)
    assert named.steps[0].change == '"Four"'  # a design's name, where it has one


@pytest.mark.parametrize(("old", "new", "said"), [
    (None, "x = 1\n", "the starting program"),
    ("x = 1\n", "x = 1\n", "the same code as its parent"),
    ("def f():\n    return 1\n\n\ndef g():\n    return 2\n",
     "def f():\n    return 3\n\n\ndef g():\n    return 2\n\n\ndef h():\n    pass\n",
     "changed f; added h (+5 -1 lines)"),
    ("class A:\n    def m(self):\n        return 1\n\n    def n(self):\n        return 2\n",
     "class A:\n    def m(self):\n        return 5\n", "changed A.m; removed A.n (+1 -4 lines)"),
    ("K = 1\nimport os\n", "K = 1\nimport sys\n", "+1 -1 lines"),
    ("x = 1\n", "x = (\n", "+1 -1 lines"),  # no parse: the counts only
])
def test_summarise_change_names_the_definitions(old, new, said):
    diff = "".join(difflib.unified_diff((old or "").splitlines(keepends=True),
                                        new.splitlines(keepends=True), "a", "b"))
    assert summarise_change(old, new, diff if old is not None else None) == said
