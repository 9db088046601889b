"""The embedded default model, offline, on the CPU (SmolLM2-135M via xllamacpp)."""

import json
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from archive import ArchiveReader
from discovery.cli import app
from discovery.models import make_client
from discovery.models.base import CallFailed, ModelError, ModelSpec
from discovery.models.embedded import _Loaded, model_path, threads

pytest.importorskip("xllamacpp")
PROMPT = [{"role": "system", "content": "You write Python. Reply with one code block only."},
          {"role": "user", "content": "Write def square(x) that returns x squared."}]


def test_embedded_answers_offline_and_deterministically():
    client = make_client(ModelSpec())
    assert client.spec.temperature == 0.7  # the small model's own defaults apply
    first = client.complete(PROMPT, seed=3)
    second = client.complete(PROMPT, seed=3)
    assert first.text == second.text and "def square" in first.text
    assert first.tokens_in > 0 and first.tokens_out > 0 and first.cost == 0.0
    assert first.attempts[0].model == "embedded"


def test_a_call_past_its_timeout_fails_clearly_and_the_next_call_works():
    """A llama.cpp call cannot be interrupted: the model's process is killed at the timeout,
    each attempt is recorded, and the next call runs on a fresh process."""
    hasty = make_client(ModelSpec(timeout_s=0.001, max_retries=1))
    with pytest.raises(CallFailed, match=r"no answer within 0\.001 s") as failed:
        hasty.complete(PROMPT, seed=3)
    assert [a.error.split(":")[0] for a in failed.value.attempts] == ["CallTimedOut"] * 2
    assert "def square" in make_client(ModelSpec()).complete(PROMPT, seed=3).text


def test_a_dead_model_process_is_replaced_and_the_attempt_recorded():
    client = make_client(ModelSpec())
    client.complete(PROMPT, seed=3)
    _Loaded.get(model_path()).worker.process.kill()
    answer = client.complete(PROMPT, seed=3)
    assert "def square" in answer.text and len(answer.attempts) == 2
    assert "the model process" in answer.attempts[0].error


def test_a_final_assistant_message_is_continued_to_the_closing_fence():
    start = {"role": "assistant", "content": "```python\ndef square(x):"}
    answer = make_client(ModelSpec()).complete([*PROMPT, start], seed=3)
    assert "return" in answer.text and "```" not in answer.text
    assert "def square" not in answer.text  # the continuation alone, as prefill APIs return it


def test_one_decoding_thread_unless_the_environment_says_otherwise(monkeypatch):
    monkeypatch.delenv("DISCOVERY_EMBEDDED_THREADS", raising=False)
    assert threads() == 1
    monkeypatch.setenv("DISCOVERY_EMBEDDED_THREADS", "2")
    assert threads() == 2
    monkeypatch.setenv("DISCOVERY_EMBEDDED_THREADS", "0")
    with pytest.raises(ModelError, match="DISCOVERY_EMBEDDED_THREADS is '0': set it to a whole"):
        threads()


def test_config_overrides_the_embedded_defaults():
    assert make_client(ModelSpec(name="embedded", max_tokens=64)).spec.max_tokens == 64


def test_missing_model_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DISCOVERY_EMBEDDED_MODEL", str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelError, match=r"not a file: point it at a \.gguf model"):
        make_client(ModelSpec())


def test_cli_models_test_embedded():
    result = CliRunner().invoke(app, ["models", "--test", "embedded"])
    assert result.exit_code == 0, result.output
    assert "def add" in result.output and "$0.000000" in result.output
    listed = CliRunner().invoke(app, ["models"])
    assert "offline, ready" in listed.output


def test_the_stored_config_is_what_ran_and_resume_runs_the_same(tmp_path):
    """The small model's defaults are resolved into the config before it is stored: after the
    archive's JSON round trip every field counts as set, so unresolved defaults (temperature
    0.7, diff prompts) would be what a resumed campaign runs."""
    from discovery.config import load_config
    from discovery.loop.campaign import Campaign

    config = load_config("circle_packing", None, [f'runs_dir="{tmp_path}"', 'name="e"'])
    campaign = Campaign.start(config, lambda event: None)
    ran = campaign.clients["embedded"].spec
    campaign.close()
    assert ran.temperature == 0.7 and ran.edit_mix == {"rewrite": 1.0}
    stored = json.loads((tmp_path / "e" / "campaign.json").read_text())
    assert stored["models"] == [ran.model_dump(mode="json")]
    with ArchiveReader(tmp_path / "e" / "archive.sqlite") as reader:
        assert reader.campaign().config == stored
    resumed = Campaign.resume(tmp_path / "e", lambda event: None)
    assert resumed.clients["embedded"].spec == ran
    resumed.close()


def test_a_model_process_ends_with_a_campaign_killed_mid_call(tmp_path):
    """Killed outright, the campaign closes nothing: the model's process notices that its
    parent is gone and ends, its call in flight unfinished."""
    script = tmp_path / "campaign.py"
    script.write_text(
        "from discovery.models.embedded import Worker, model_path\n"
        "worker = Worker(model_path(), 1)\n"
        "print(worker.process.pid, flush=True)\n"
        "worker.ask({'messages': [{'role': 'user', 'content': 'Tell a long story.'}],\n"
        "            'max_tokens': 4000, 'ignore_eos': True}, 600)\n")
    campaign = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    model = int(campaign.stdout.readline())
    time.sleep(1)  # into the call
    campaign.kill()
    campaign.wait()
    deadline = time.monotonic() + 60
    while _alive(model) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(model)


def _alive(pid: int) -> bool:
    """Running (a zombie left for init to reap has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
