"""`bench/paper_bench.py --combine`: the PSRO sweep is run one game per process (it is long),
and the lead's tables and the paper's claim are rebuilt from what those processes printed, so
the rebuilt rows must be exactly the figures the runs measured, in the sweep's order, with the
unmeasured cells marked rather than dropped."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "paper_bench.py"


def test_combine_rebuilds_the_table_and_claim_from_the_runs_printed_figures(tmp_path):
    first, second = tmp_path / "liars4.md", tmp_path / "kuhn2.md"
    first.write_text("<!-- liars4 Uniform 0.15 0.5 CPU s -->\n"
                     "<!-- liars4 RM 0.04 3.6 CPU s -->\n"
                     "<!-- liars4 SHOR-PSRO 0.03 70.1 CPU s -->\n")
    second.write_text("noise\n<!-- kuhn2 Uniform 0.02 0.1 CPU s -->\n"
                      "<!-- kuhn2 RM 0.005 2.5 CPU s -->\n"
                      "<!-- kuhn2 SHOR-PSRO 0.05 69.2 CPU s -->\n"
                      "<!-- liars4 RM 0.01 3.0 CPU s -->\n")  # a later figure replaces one
    out = subprocess.run([sys.executable, str(BENCH), "--combine", str(first), str(second)],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    assert "| kuhn2 | 0.02 | **0.005** | 0.05 |" in out  # the sweep's order, not the files'
    assert "| liars4 | 0.15 | **0.01** | 0.03 |" in out  # 0.03 is 0.52 orders behind 0.01
    assert out.index("| kuhn2 |") < out.index("| liars4 |")
    assert ("| SHOR-PSRO | all five baselines | 0 of the 2 measured: none | kuhn2 +1.00, "
            "liars4 +0.48 | open: 8 of the 9 games not measured would have to match |") in out
    assert "liars4: Uniform 0, RM 3, SHOR-PSRO 70." in out


def test_combine_marks_what_a_game_lacks_or_a_solver_cannot_run(tmp_path):
    path = tmp_path / "runs.md"
    path.write_text("<!-- kuhn2 Uniform 0.02 0.1 CPU s -->\n"
                    "<!-- liars4 Uniform 0.15 0.5 CPU s -->\n"
                    "<!-- liars4 Nash 0.05 1.3 CPU s -->\n"
                    "<!-- kuhn3 Uniform 0.03 1.4 CPU s -->\n"
                    "<!-- kuhn3 Nash n/a (the Nash (LP) meta-solver solves two-player meta-games "
                    "only) 0.0 CPU s -->\n")
    out = subprocess.run([sys.executable, str(BENCH), "--combine", str(path)],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    assert "| kuhn2 | **0.02** | not measured |" in out
    assert "| kuhn3 | **0.03** | n/a |" in out
