"""Benches must not rot: each one's `--quick` mode runs here, as CI runs this suite, and must exit
0 and print its figures (a Markdown row with the measured numbers and, where the bench has
one, the ratio against the baseline it measured in the same run)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from evaluators.sandbox import available_level

BENCH = Path(__file__).resolve().parent.parent / "bench"
NUMBER = r"[\d,]+(?:\.\d+)?"
RATIO = rf"{NUMBER}x"

FIGURES = {
    "agents_bench.py": [rf"\| 32 \| {NUMBER} \| {NUMBER} \| {NUMBER} \| \d+% \|"],
    "archive_bench.py": [rf"\| 1,000 \| {NUMBER} \|.*\| {RATIO} \|"],
    "campaign_bench.py": [rf"\| 1,000 \| 20 \| {NUMBER} \| {NUMBER} \| {RATIO} \|"],
    "meta_bench.py": [rf"\| train \| 1 \| 3 \| \d+ \| \d+ \| {NUMBER} \| {NUMBER} \| {NUMBER} "
                      rf"\| {NUMBER} \|"],
    "memory_bench.py": [
        rf"\| map_memory \| smoke \| {NUMBER} \| {NUMBER} \| \+{NUMBER} ± {NUMBER} \|"],
    "rl_gpu_bench.py": [
        rf"\| cpu \| cartpole \| 64 \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {RATIO} \|"],
    "cfr_gpu_bench.py": [rf"\| leduc_poker \| 5,520 \| {path} \| cpu \| 5 \| {NUMBER} \| {NUMBER} "
                         rf"\| {NUMBER} \| {NUMBER}e[-+]\d+ \| {RATIO} \|"
                         for path in (r"numpy engine \(oracle \+ seed rule\)",
                                      r"torch CFR\+ wholly on the device")],
    "rl_reference_bench.py": [rf"\| ppo_clip \(seed\) \| 1\.00 \[{NUMBER}, {NUMBER}\] \|"],
    "rl_bench.py": [
        rf"\| cartpole \| stacked-agent PPO \(torch env\) \| {NUMBER} \| {NUMBER} \| {RATIO} \|",
        *(rf"\| {game} \| stacked-agent PPO \(torch env\) \| 8 \| {NUMBER} \| {RATIO} \|"
          for game in ("breakout", "asterix", "freeway", "space_invaders"))],
    "models_bench.py": [rf"\| raw openai SDK \(baseline\) \| {NUMBER} \| {NUMBER} \| 1.00x \|",
                        rf"\| discovery LiteLLMClient \(litellm\) \| {NUMBER} \| {NUMBER} "
                        rf"\| {RATIO} \|"],
    "oracle_bench.py": [rf"\| fresh process \(\w+\) \| empty oracle \| {NUMBER} \| {NUMBER} "
                        rf"\| {RATIO} \|"],
    "openevolve_bench.py": [rf"\| 60 \| {NUMBER} \| ({NUMBER}|-) \| ({RATIO}|-) \|"],
    "peer_tasks_bench.py": [
        rf"\| shinka/circle_packing \| shinka \| yes \| ok \(main\) \| {NUMBER} \| {NUMBER} \| yes "
        r"\(run_packing\) \|"],
    "paper_bench.py": [rf"\| leduc2 \| {NUMBER}(e-\d+)? \| .*\| \*?\*?{NUMBER}",
                       r"\| VAD-CFR matches or beats .* \| \d+ of 2; .* \| (yes|no) \|"],
    "ray_bench.py": [rf"\| 2 \| 2 \| {NUMBER} \| {RATIO} \| {NUMBER} \| {NUMBER} \|",
                     rf"- node start: head {NUMBER} s, worker node {NUMBER} s"],
    "startup_bench.py": [
        rf"\| discover {cmd} \| {NUMBER} \| {NUMBER} \| {RATIO} \| {RATIO} \| {NUMBER} \|"
        for cmd in ("--help", "runs")],
    "throughput_bench.py": [rf"\| 8x2 \| discovery \| 8x2 \| \d+ \| {NUMBER} \| {NUMBER}% "
                            rf"\| {NUMBER}% \| {NUMBER}% \| {NUMBER}% \| 1 \| {NUMBER} "
                            rf"\| {NUMBER}% \| 1.00x \|"],
    "view_bench.py": [rf"\| 1,\d{{3}} \| {NUMBER} \| {NUMBER} \| {NUMBER} \| ({NUMBER}|-) "
                      rf"\| ({NUMBER}|-) \|"],
    "sandbox_bench.py": [rf"\| fresh process \| \w+ \| none \| {NUMBER} \| {NUMBER} \|"] + (
        [rf"\| none \| {NUMBER} \| {NUMBER} \| {RATIO} \|"] if available_level() == "bwrap"
        else []),
    "cfr_openspiel_bench.py": [
        rf"\| kuhn_poker \| \(defaults\) \| 2 \| {NUMBER} \| [^|]+ \| none \| {NUMBER}e-\d+ \|",
        rf"\| sheriff \| [^|]+ \| 2 \| {NUMBER} \| [^|]+ \| \d+ \| .* \| ours {NUMBER}e-\d+ / "
        rf"{NUMBER}e-\d+; OpenSpiel {NUMBER}e[-+]\d+ / {NUMBER}e[-+]\d+ \|"],
    # owned elsewhere; their figures are checked only for being a Markdown row of numbers
    "cfr_bench.py": [rf"\|[^\n]*\| {NUMBER}[^\n|]* \|"],
    "psro_bench.py": [rf"\|[^\n]*\| {NUMBER}[^\n|]* \|"],
}


def test_every_bench_is_covered():
    assert sorted(FIGURES) == sorted(p.name for p in BENCH.glob("*_bench.py"))


@pytest.mark.parametrize("bench", sorted(FIGURES))
def test_bench_quick_mode_runs_and_prints_its_figures(bench):
    result = subprocess.run([sys.executable, str(BENCH / bench), "--quick"], cwd=BENCH.parent,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for figure in FIGURES[bench]:
        assert re.search(figure, result.stdout), f"{bench}: no {figure!r} in\n{result.stdout}"
