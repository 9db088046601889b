"""Every model is checked before the first evaluation: a missing key, a refused key or an
endpoint that does not answer is one line and exit 1, with nothing written; `discover models`
says the same. Hosted providers are the mock OpenAI server (the real wire protocol)."""

import json

from helpers import SCRIPT, discover

from archive import ArchiveReader
from discovery.config import load_config
from discovery.doubles.mock_server import MockServer

GOOD = json.loads(SCRIPT.read_text().splitlines()[1])["text"]
FAST = ["--set", "edits.tune_share=0", "--set", "edits.restart_share=0", "--set",
        "executor='fresh'", "--set", "selection.islands=1", "--set", "edits.scratchpad_every=0"]


def hosted(base_url: str, key_env: str = "MOCK_KEY") -> list[str]:
    """The mock server's model as the campaign's only one, by `--set models.0.KEY`."""
    return ["--set", "models.0.name='openai/mock-model'", "--set",
            f"models.0.api_base='{base_url}'", "--set", f"models.0.api_key_env='{key_env}'",
            "--set", "models.0.edit_mix={rewrite=1.0}"]


def one_line(result, fragment: str) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], \
        result.stderr
    assert fragment not in result.stdout  # said once, not again in a status view
    return lines[0]


def preflight_calls(server) -> int:
    return sum(1 for r in server.requests
               if r.get("body", {}).get("messages", [{}])[-1].get("content") == "Reply with OK.")


def test_a_missing_key_fails_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with MockServer() as server:
        result = discover(tmp_path, "run", "circle_packing", "--name", "m", "--iterations", "3",
                          *hosted(server.base_url, "NO_SUCH_KEY"), *FAST)
    one_line(result, "model openai/mock-model needs its API key in $NO_SUCH_KEY: export "
                     "NO_SUCH_KEY=")
    assert not server.requests and not (tmp_path / "m").exists()


def test_a_missing_provider_key_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = discover(tmp_path, "run", "circle_packing", "--name", "o", "--set",
                      "models.0.name='gpt-4.1-mini'", *FAST)
    one_line(result, "model gpt-4.1-mini needs $OPENAI_API_KEY")
    assert not (tmp_path / "o").exists()


def test_a_refused_key_or_a_dead_endpoint_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-revoked")
    with MockServer(then=lambda: "401") as server:
        result = discover(tmp_path, "run", "circle_packing", "--name", "r",
                          *hosted(server.base_url), *FAST)
    one_line(result, f"model openai/mock-model at {server.base_url} refused the key: check "
                     "$MOCK_KEY")
    assert len(server.requests) == 1 and not (tmp_path / "r").exists()
    dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    line = one_line(discover(tmp_path, "run", "circle_packing", "--name", "d", *hosted(dead),
                             "--set", "models.0.backoff_s=0", *FAST), "pass --no-preflight")
    assert "model openai/mock-model failed after 2 attempt(s)" in line


def test_the_preflight_call_is_one_and_skippable(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-good")
    with MockServer(reply=lambda messages: GOOD) as server:
        checked = discover(tmp_path, "run", "circle_packing", "--name", "a", "--iterations",
                           "2", "--progress", "quiet", *hosted(server.base_url), *FAST)
        assert checked.exit_code == 0, checked.output
        assert preflight_calls(server) == 1
        skipped = discover(tmp_path, "resume", "a", "--iterations", "3", "--progress",
                           "quiet", "--no-preflight")
        assert skipped.exit_code == 0, skipped.output
        assert preflight_calls(server) == 1
    with ArchiveReader(tmp_path / "a" / "archive.sqlite") as reader:  # no iteration's call
        purposes = {row[0] for row in reader._conn.execute("SELECT purpose FROM model_calls")}
    assert "preflight" not in purposes and "propose" in purposes


def test_models_exits_1_for_an_unusable_model(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCK_KEY", "sk-good")
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with MockServer() as server:
        config = tmp_path / "models.toml"
        config.write_text(
            f'[[models]]\nname = "openai/mock-model"\napi_base = "{server.base_url}"\n'
            'api_key_env = "MOCK_KEY"\n\n'
            f'[[models]]\nname = "openai/other"\napi_base = "{server.base_url}"\n'
            'api_key_env = "NO_SUCH_KEY"\n')
        result = discover(tmp_path, "models", "--config", str(config))
        assert result.exit_code == 1, result.output
        assert "reachable" in result.stdout and "not usable" in result.stdout
        assert result.stderr.strip() == (
            "error: 1 of 2 models not usable; openai/other: model openai/other needs its API "
            "key in $NO_SUCH_KEY: export NO_SUCH_KEY=...")
        config.write_text(f'[[models]]\nname = "openai/mock-model"\napi_base = '
                          f'"{server.base_url}"\napi_key_env = "MOCK_KEY"\n')
        assert discover(tmp_path, "models", "--config", str(config)).exit_code == 0


def test_set_indexes_the_models_list():
    config = load_config("circle_packing", None, ["models.0.name=gpt-4.1-mini",
                                                  "models.1.name=openai/x",
                                                  "models.1.api_base='http://h/v1'"])
    assert [(m.name, m.api_base) for m in config.models] == [("gpt-4.1-mini", None),
                                                              ("openai/x", "http://h/v1")]


def test_set_says_how_to_write_the_list(tmp_path):
    for setting in ("models.2.name=x", "models.name=x"):
        result = discover(tmp_path, "run", "circle_packing", "--set", setting)
        line = one_line(result, f"--set {setting.split('=')[0]}: models is a list of 1: "
                                "index it from 0 (models.0.name=X")
        assert "--set 'models=[{name=\"X\"}, {name=\"Y\"}]'" in line
