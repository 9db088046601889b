"""The issue's bar: a generated 10k-program campaign is listed, inspected, drawn and exported."""

import subprocess
import sys

from archive import ArchiveReader
from discovery.doubles.synthetic import generate


def test_ten_thousand_programs_through_the_cli(tmp_path):
    runs = tmp_path / "runs"
    generate(runs / "big", 10_000, seed=11)
    with ArchiveReader(runs / "big" / "archive.sqlite") as reader:
        best = reader.best()
        assert reader.count() >= 10_000

    def discover(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "discovery", "--runs-dir", str(runs), *args],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "big" in discover("runs")
    assert f"#{best.id}" in discover("status", "big")
    assert "★ best" in discover("lineage", "big")
    discover("lineage", "big", "--format", "graphml", "--out", "big.graphml")
    assert (tmp_path / "big.graphml").stat().st_size > 1_000_000
    assert "def minimise" in discover("show", "big", str(best.id))
    assert "@@" in discover("diff", "big", str(best.id))
    discover("export", "big", "--best", "--out", "big_best.py")
    check = "import sys; sys.path.insert(0, '.')\nimport big_best; print(big_best.run()[1])"
    done = subprocess.run([sys.executable, "-I", "-c", check],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and float(done.stdout) < 1.0, done.stderr
