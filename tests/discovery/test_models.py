import json
import os
import random
import subprocess
import sys
import threading
import time

import pytest
from helpers import SCRIPT, discover, run_scripted
from typer.testing import CliRunner

from archive import ArchiveReader
from discovery.cli import app
from discovery.config import ConfigError, load_config
from discovery.doubles.mock_server import Latency, MockServer
from discovery.models import load_specs
from discovery.models.base import Budget, CallFailed, ModelError, ModelSpec
from discovery.models.ensemble import Ensemble
from discovery.models.litellm_client import LiteLLMClient
from discovery.models.transcripts import Recorder, Replayer

HELLO = [{"role": "user", "content": "hello there"}]


def client(server: MockServer, **overrides) -> LiteLLMClient:
    settings = {"backoff_s": 0.01, "timeout_s": 5.0, **overrides}
    spec = ModelSpec(name="openai/mock-model", api_base=server.base_url, **settings)
    return LiteLLMClient(spec)


def test_plain_call_through_litellm():
    with MockServer() as server:
        answer = client(server).complete(HELLO)
    assert answer.text.startswith("```python") and "return 11" in answer.text
    assert (answer.tokens_in, answer.tokens_out) == (2, len(answer.text.split()))
    assert answer.cost == 0.0 and len(answer.attempts) == 1
    assert answer.attempts[0].raw_response == answer.text
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "mock-model"


def test_openai_sdk_plain_and_streaming():
    import openai

    with MockServer() as server:
        sdk = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        plain = sdk.chat.completions.create(model="mock-model", messages=HELLO)
        chunks = list(sdk.chat.completions.create(model="mock-model", messages=HELLO,
                                                  stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == plain.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens


def test_litellm_streaming():
    import litellm

    with MockServer() as server:
        stream = litellm.completion(model="openai/mock-model", messages=HELLO, stream=True,
                                    api_base=server.base_url, api_key="x")
        text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert "return 11" in text


def test_retry_after_is_honoured_and_every_attempt_recorded():
    with MockServer(script=["429:0.5", "500", "truncated", "empty", "blank"]) as server:
        start = time.monotonic()
        answer = client(server, max_retries=5).complete(HELLO)
        elapsed = time.monotonic() - start
    assert elapsed >= 0.5
    errors = [a.error for a in answer.attempts]
    assert len(errors) == 6 and errors[-1] is None
    assert errors[0].startswith("RateLimitError") and errors[1].startswith("InternalServerError")
    assert "EmptyResponse: the server returned no choices" in errors[3]
    assert "EmptyResponse: the server returned an empty message" in errors[4]


def test_retries_run_out():
    with MockServer(script=["503"] * 10) as server, \
            pytest.raises(CallFailed, match="failed after 3 attempt") as info:
        client(server, max_retries=2).complete(HELLO)
    assert len(info.value.attempts) == 3 and len(server.requests) == 3


def test_context_length_is_not_retried():
    with MockServer(script=["context", "ok"]) as server, \
            pytest.raises(CallFailed, match="ContextWindowExceededError") as info:
        client(server).complete(HELLO)
    assert len(info.value.attempts) == 1 and len(server.requests) == 1


def test_timeout_is_retried():
    with MockServer(script=["hang"]) as server:
        answer = client(server, timeout_s=0.5).complete(HELLO)
    assert answer.attempts[0].error.startswith("Timeout") and answer.text


def test_bad_key_is_a_one_line_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-secret-value-123")
    with MockServer(script=["401"]) as server:
        with pytest.raises(ModelError, match=r"refused the key: check \$MOCK_KEY"):
            client(server, api_key_env="MOCK_KEY").complete(HELLO)
        assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-secret-value-123"


def test_missing_keys(monkeypatch):
    monkeypatch.delenv("MOCK_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelError, match=r"needs its API key in \$MOCK_KEY"):
        LiteLLMClient(ModelSpec(name="openai/x", api_key_env="MOCK_KEY")).complete(HELLO)
    with pytest.raises(ModelError, match=r"needs \$OPENAI_API_KEY"):
        LiteLLMClient(ModelSpec(name="gpt-4.1-mini")).complete(HELLO)


def test_unknown_model_name(monkeypatch):
    monkeypatch.setenv("SOME_KEY", "x")
    with pytest.raises(ModelError, match="unknown model 'nonsense-model-x'"):
        LiteLLMClient(ModelSpec(name="nonsense-model-x", api_key_env="SOME_KEY")).complete(HELLO)


def test_unreachable_endpoint_fails_after_retries():
    spec = ModelSpec(name="openai/m", api_base="http://127.0.0.1:9/v1", backoff_s=0.01,
                     max_retries=1, timeout_s=2)
    with pytest.raises(CallFailed, match="Connection error") as info:
        LiteLLMClient(spec).complete(HELLO)
    assert len(info.value.attempts) == 2


def test_keys_never_reach_the_records(monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-never-record-me")
    with MockServer(script=["500"]) as server:
        answer = client(server, api_key_env="MOCK_KEY").complete(HELLO)
    assert "sk-never-record-me" not in json.dumps([a.__dict__ for a in answer.attempts])


def test_concurrency_is_limited_per_endpoint():
    active, peak, lock = [0], [0], threading.Lock()

    def slow_reply(messages):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return "ok"

    with MockServer(reply=slow_reply) as server:
        c = client(server, max_concurrency=2)
        threads = [threading.Thread(target=c.complete, args=(HELLO,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak[0] == 2


def test_latency_draws_realistic_steps_reproducibly():
    first, again = Latency(seed=3), Latency(seed=3)
    draws = [first() for _ in range(2000)]
    assert draws == [again() for _ in range(2000)]
    slow = sorted(float(d.split(":")[1]) for d in draws if d.startswith("slow:"))
    assert 4.0 < slow[len(slow) // 2] < 6.0  # the median answer takes about 5 s
    assert 0.005 < draws.count("slow:60") / len(draws) < 0.04  # stragglers
    assert 0.005 < draws.count("429:1") / len(draws) < 0.04  # rate limits
    scaled = Latency(seed=3, scale=10)  # the same draws, every time divided by 10
    for full, tenth in zip(draws[:200], (scaled() for _ in range(200)), strict=True):
        assert full.split(":")[0] == tenth.split(":")[0]
        assert float(tenth.split(":")[1]) == pytest.approx(float(full.split(":")[1]) / 10,
                                                           abs=1e-4)


def test_then_plays_after_the_script_and_requests_record_their_timing():
    steps = iter(["429:0.01", "slow:0.3", "ok"])
    with MockServer(script=["500"], then=lambda: next(steps)) as server:
        answer = client(server).complete(HELLO)
    chats = server.requests
    assert [r["step"] for r in chats] == ["500", "429:0.01", "slow:0.3"]
    assert len(answer.attempts) == 3 and answer.attempts[-1].latency_s >= 0.3
    assert chats[-1]["answered"] - chats[-1]["arrived"] >= 0.3
    assert all(r["arrived"] <= r["answered"] for r in chats)
    assert [r["answer"] for r in chats] == [None, None, answer.text]


def test_cost_from_litellm_table_or_config(monkeypatch):
    import litellm

    monkeypatch.setenv("MOCK_KEY", "x")
    with MockServer() as server:
        priced = LiteLLMClient(ModelSpec(name="gpt-4.1-mini", api_base=server.base_url,
                                         api_key_env="MOCK_KEY")).complete(HELLO)
        custom = client(server, price_in_per_mtok=1.0, price_out_per_mtok=2.0).complete(HELLO)
    info = litellm.get_model_info("gpt-4.1-mini")
    assert priced.cost == pytest.approx(priced.tokens_in * info["input_cost_per_token"]
                                        + priced.tokens_out * info["output_cost_per_token"])
    assert custom.cost == pytest.approx((custom.tokens_in + 2 * custom.tokens_out) / 1e6)


def test_nothing_but_loopback_is_contacted():
    script = """
import socket
seen = []
connect = socket.socket.connect
def spy(self, address):
    seen.append(address)
    return connect(self, address)
socket.socket.connect = spy
from discovery.models.base import ModelSpec
from discovery.models.litellm_client import LiteLLMClient
from discovery.doubles.mock_server import MockServer
import litellm
with MockServer() as server:
    LiteLLMClient(ModelSpec(name="openai/m", api_base=server.base_url)).complete(
        [{"role": "user", "content": "hi"}])
    litellm.token_counter(model="gpt-4.1-mini", text="hello")
print([a[0] for a in seen if isinstance(a, tuple)])
"""
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    hosts = json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))
    assert hosts and set(hosts) == {"127.0.0.1"}


def test_transcripts_record_and_replay(tmp_path):
    path = tmp_path / "t.jsonl"
    spec = ModelSpec(name="openai/mock-model")
    with MockServer() as server:
        recorder = Recorder(client(server), path)
        first = recorder.complete(HELLO, seed=1)
        again = recorder.complete(HELLO, seed=1)
        other = recorder.complete([{"role": "user", "content": "x"}], seed=1)
    replayer = Replayer(spec.model_copy(update={"backoff_s": 0.01, "timeout_s": 5}), path)
    assert replayer.complete(HELLO, seed=1).text == first.text
    assert replayer.complete(HELLO, seed=1).text == again.text
    assert replayer.complete([{"role": "user", "content": "x"}], seed=1).text == other.text
    with pytest.raises(ModelError, match="no further recorded answer"):
        replayer.complete(HELLO, seed=1)
    with pytest.raises(ModelError, match="no recorded answer"):
        replayer.complete(HELLO, seed=2)
    path.write_text(path.read_text() + "not json\n")
    with pytest.raises(ModelError, match="line 4 is not a transcript record"):
        Replayer(spec, path)


def test_a_full_disk_never_leaves_a_torn_transcript_line(tmp_path, monkeypatch):
    path = tmp_path / "t.jsonl"
    with MockServer() as server:
        recorder = Recorder(client(server), path)
        recorder.complete(HELLO, seed=1)
        whole = path.read_bytes()
        real_write = os.write

        def disk_full(fd: int, data: bytes) -> int:  # the kernel writes what fits
            return real_write(fd, data[:10])

        monkeypatch.setattr(os, "write", disk_full)
        with pytest.raises(OSError, match="No space left"):
            recorder.complete(HELLO, seed=2)
    assert path.read_bytes() == whole  # the short write was taken back


def test_a_torn_last_transcript_line_is_dropped_with_a_warning(tmp_path):
    path = tmp_path / "t.jsonl"
    with MockServer() as server:
        first = Recorder(client(server), path).complete(HELLO, seed=1)
    path.write_bytes(path.read_bytes() + b'{"key": "abc", "te')  # a kill mid-write
    replayer = Replayer(ModelSpec(name="openai/mock-model", backoff_s=0.01, timeout_s=5), path)
    assert replayer.complete(HELLO, seed=1).text == first.text
    assert "torn last line (18 bytes)" in replayer.warning
    assert path.read_bytes().endswith(b'"te')  # replay reads; it never edits the transcript
    with MockServer() as server:
        recorder = Recorder(client(server), path)  # a resumed campaign appends after it
        assert "torn last line (18 bytes)" in recorder.warning
        recorder.complete(HELLO, seed=2)
    assert [json.loads(line)["seed"] for line in path.read_text().splitlines()] == [1, 2]


def test_resume_repairs_a_torn_transcript_and_records_a_warning(tmp_path):
    run_scripted(tmp_path, "t", 3, f'models=[{{name="scripted:{SCRIPT}", '
                 'edit_mix={rewrite=1.0}}]', "selection.islands=1")
    transcript = tmp_path / "t" / "transcript.jsonl"
    lines = len(transcript.read_text().splitlines())
    with transcript.open("a") as f:
        f.write('{"key": "torn')
    result = discover(tmp_path, "resume", "t", "--iterations", "5", "--progress", "lines")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "torn last line (13 bytes)" in result.stderr
    assert len([json.loads(line) for line in transcript.read_text().splitlines()]) > lines
    with ArchiveReader(tmp_path / "t" / "archive.sqlite") as reader:
        (_, _, warning), = reader.events("warning")
        assert "torn last line (13 bytes)" in warning["message"]
    status = " ".join(discover(tmp_path, "status", "t").output.replace("│", " ").split())
    assert "last warning" in status and "torn last line (13 bytes)" in status


def test_ensemble_prefers_models_whose_children_improve():
    specs = [ModelSpec(name="a"), ModelSpec(name="b"), ModelSpec(name="c", weight=3)]
    ensemble = Ensemble(specs, exploration=0.3)
    rng = random.Random(0)
    assert {ensemble.choose(rng) for _ in range(1)} <= {"a", "b", "c"}
    for _ in range(300):
        name = ensemble.choose(rng)
        ensemble.update(name, 1.0 if name == "b" and rng.random() < 0.8 else
                        (1.0 if rng.random() < 0.2 else 0.0))
    pulls = {n: a.pulls for n, a in ensemble.arms.items()}
    assert pulls["b"] > pulls["a"] and pulls["b"] > pulls["c"] and min(pulls.values()) > 0


def test_ensemble_state_survives_a_changed_model_list():
    old = Ensemble([ModelSpec(name="a"), ModelSpec(name="b")])
    old.update("a", 1.0)
    old.update("b", 0.0)
    state = json.loads(json.dumps(old.state()))
    new = Ensemble([ModelSpec(name="a"), ModelSpec(name="z")], state)
    assert new.arms["a"].pulls == 1 and new.arms["a"].reward == 1.0
    assert new.arms["z"].pulls == 0 and "b" not in new.arms
    assert new.choose(random.Random(0)) == "z"  # an untried model goes first
    new.update("b", 1.0)  # a late result from a removed model is dropped, not a crash


def test_budget_caps():
    from archive import ModelCall

    budget = Budget(max_tokens=1000, max_cost=0.5)
    budget.add(ModelCall("m", "propose", 600, 300, 0.1))
    assert budget.exhausted() is None
    budget.add(ModelCall("m", "propose", 100, 0, 0.45))
    assert "token budget" in budget.exhausted()


def test_models_config_errors(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text('[[models]]\nname = "gpt-4.1-mini"\nwieght = 2\n')
    with pytest.raises(ModelError, match=r"m.toml: \[\[models\]\] entry 1: unknown field "
                                         r"'wieght': did you mean 'weight'\?$"):
        load_specs(bad)
    with pytest.raises(ModelError, match="no config file"):
        load_specs(tmp_path / "missing.toml")


def test_config_errors_name_the_real_place_and_the_fix(tmp_path):
    def error(path, *overrides: str) -> str:
        with pytest.raises(ConfigError) as exc:
            load_config(None, path, list(overrides))
        return str(exc.value)

    config = tmp_path / "c.toml"
    config.write_text('task = "circle_packing"\n[[models]]\nname = "embedded"\n'
                      'temprature = 0.3\n')
    assert error(config) == (f"{config}: unknown field 'models[0].temprature': did you mean "
                             "'temperature'?")
    config.write_text('task = "circle_packing"\n[[models]]\nflavour = 1\n')
    assert error(config).startswith(f"{config}: unknown field 'models[0].flavour': known "
                                    "fields are name, weight, api_base,")
    config.write_text('task = "circle_packing"\n[selection]\nislands = 2\n')
    wrong = error(config, 'selection.islands="many"')
    assert wrong == ('--set selection.islands="many": selection.islands: Input should be a '
                     "valid integer, unable to parse string as an integer")
    assert error(None, "task='x'", 'models=[{name="a", temprature=1}]') == (
        "--set models=[{name=\"a\", temprature=1}]: unknown field 'models[0].temprature': did "
        "you mean 'temperature'?")
    config.write_text('task = "circle_packing"\n[selection]\nislands = "many"\n')
    assert error(config, "seed=3").startswith(f"{config}: selection.islands: Input should be")


def test_cli_models_test_against_the_mock_server():
    runner = CliRunner()
    with MockServer() as server:
        result = runner.invoke(app, ["models", "--test", "openai/mock-model", "--api-base",
                                     server.base_url, "--prompt", "say hi"])
    assert result.exit_code == 0, result.output
    assert "return 6" in result.output and "model test" in result.output


def test_cli_models_lists_reachability(tmp_path):
    runner = CliRunner()
    with MockServer() as server:
        config = tmp_path / "models.toml"
        config.write_text(f'[[models]]\nname = "openai/mock-model"\napi_base = "{server.base_url}"'
                          '\n\n[[models]]\nname = "openai/down"\napi_base = '
                          '"http://127.0.0.1:9/v1"\nmax_retries = 0\n')
        result = runner.invoke(app, ["models", "--config", str(config)])
    assert result.exit_code == 1, result.output  # a model is not usable
    assert "reachable" in result.output and "not usable" in result.output
    failed = runner.invoke(app, ["models", "--test", "nonsense-x", "--api-key-env", "HOME"])
    assert failed.exit_code == 1 and "unknown model 'nonsense-x'" in failed.stderr


def test_json_mode_asks_the_provider_for_a_json_object_and_keys_the_transcript(tmp_path):
    """Agents ask for JSON objects: litellm sends `response_format` where the provider takes
    it, and a transcript keeps a JSON-mode answer apart from a plain one."""
    with MockServer(reply=lambda messages: '{"answer": "4"}') as server:
        spec = ModelSpec(name="openai/mock-model", api_base=server.base_url, max_retries=0)
        recorder = Recorder(LiteLLMClient(spec), tmp_path / "t.jsonl")
        messages = [{"role": "user", "content": "2 + 2 as JSON"}]
        recorder.complete(messages, purpose="agent", json_mode=True)
        recorder.complete(messages, purpose="agent")
        bodies = [r["body"] for r in server.requests if r["path"].endswith("/completions")]
    assert bodies[0]["response_format"] == {"type": "json_object"}
    assert "response_format" not in bodies[1]
    replayer = Replayer(spec, tmp_path / "t.jsonl")
    assert replayer.complete(messages, json_mode=True).text == '{"answer": "4"}'
    assert replayer.complete(messages).text == '{"answer": "4"}'
    with pytest.raises(ModelError):  # each was recorded once, under its own key
        replayer.complete(messages, json_mode=True)
