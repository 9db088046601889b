"""A model call and its transcript record share a call id: the prompt of an archived call is
found by that id, never by its answer's text (two calls may answer alike)."""

import json

from discovery.doubles.scripted import Scripted
from discovery.models.base import ModelSpec
from discovery.models.transcripts import Recorder, Replayer, TranscriptIndex, transcript_of


def scripted(tmp_path, *answers: str) -> Scripted:
    script = tmp_path / "script.jsonl"
    script.write_text("".join(json.dumps({"text": a}) + "\n" for a in answers))
    return Scripted(ModelSpec(name=f"scripted:{script}"), script)


def ask(client, question: str):
    return client.complete([{"role": "user", "content": question}], seed=0)


def test_identical_answers_keep_their_own_prompts(tmp_path):
    path = tmp_path / "transcript.jsonl"
    recorder = Recorder(scripted(tmp_path, "same answer"), path)
    first, second = ask(recorder, "first question"), ask(recorder, "second question")
    ids = [first.attempts[-1].call_id, second.attempts[-1].call_id]
    assert all(ids) and ids[0] != ids[1]
    index = TranscriptIndex(path)
    found = index.exchanges([*ids, None, "unknown"])
    assert set(found) == set(ids)
    assert found[ids[0]].messages[0]["content"] == "first question"
    assert found[ids[1]].messages[0]["content"] == "second question"
    assert found[ids[1]].text == "same answer"
    # the file grows while a campaign runs: a later call is found by the same index
    third = ask(recorder, "third question").attempts[-1].call_id
    assert index.exchange(third).messages[0]["content"] == "third question"
    assert index.exchange(None) is None


def test_a_replayed_call_keeps_its_recorded_id(tmp_path):
    path = tmp_path / "transcript.jsonl"
    client = scripted(tmp_path, "an answer")
    recorded = ask(Recorder(client, path), "q").attempts[-1].call_id
    replayed = ask(Replayer(client.spec, path), "q").attempts[-1].call_id
    assert replayed == recorded


def test_a_replayed_run_reads_the_transcript_it_replays(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert transcript_of(run, {}) == run / "transcript.jsonl"
    assert transcript_of(run, {"replay": "/elsewhere/t.jsonl"}).as_posix() == "/elsewhere/t.jsonl"
