"""Recorded model transcripts: a recorder that captures request -> response pairs from any
client, and a replayer that answers from them, so tests and demos run with no model at all and
a replayed campaign reproduces the original archive.

A request is matched by a stable hash of what determines the answer (model, messages, seed,
temperature, max_tokens); the same request asked twice replays its recorded answers in order.
The file is JSON lines, each appended with one write (O_APPEND), so a killed campaign keeps
what it had and a line is whole or, when the disk filled or a kill came mid-write, the torn last
line: the recorder takes a short write back, and both recorder and replayer drop a torn last
line with a warning (`warning`) instead of refusing the whole transcript.

A record may leave out its prompt (`messages` null) when a byte cap on the agent model's
prompts was reached (discovery/models/agent.py); its key and answer still replay it exactly,
and a `{"cut": reason}` line before it says why.

Each record carries a call id (`call`), which the recorder also puts on the completion's last
attempt (`ModelCall.call_id`), so the archive's model call names its exchange: a prompt is
found by that id (`TranscriptIndex`), never by matching answer text (two calls may answer the
same). A replayed call keeps its recorded id, so a replayed archive's calls name the exchanges
of the transcript it replays. Records written before call ids have none, and are found by none.
"""

import dataclasses
import errno
import hashlib
import json
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from archive.records import ModelCall
from discovery.models.base import Completion, Messages, ModelClient, ModelError, ModelSpec


def request_key(spec: ModelSpec, messages: Messages, seed: int | None,
                temperature: float | None = None, json_mode: bool = False) -> str:
    fields = {"model": spec.name, "messages": messages, "seed": seed,
              "temperature": spec.temperature if temperature is None else temperature,
              "max_tokens": spec.max_tokens}
    if json_mode:  # only when asked: the keys of transcripts recorded before it stay valid
        fields["json_mode"] = True
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def torn_tail(data: bytes, path: Path) -> tuple[int, str | None]:
    """Where the whole lines of a transcript end, and a warning when a torn last line (no
    newline: its write was cut short) follows them."""
    end = data.rfind(b"\n") + 1
    if end == len(data):
        return end, None
    return end, (f"{path}: dropped a torn last line ({len(data) - end} bytes), left by a write "
                 "cut short by a full disk or a kill")


def stamp(completion: Completion) -> Completion:
    """The completion with a new call id on its last attempt (the successful one, whose
    exchange the transcript records): how an archived call names its transcript record."""
    if not completion.attempts:
        return completion
    *earlier, last = completion.attempts
    return dataclasses.replace(completion, attempts=(
        *earlier, dataclasses.replace(last, call_id=uuid.uuid4().hex)))


class Recorder:
    """Wraps a real client and appends every successful exchange to `path`; a torn last line
    left by an earlier run is cut off first (`warning` says so), so appends stay whole lines."""

    def __init__(self, inner: ModelClient, path: str | Path):
        self.inner, self.spec, self.path = inner, inner.spec, Path(path)
        self._lock = threading.Lock()
        self.warning: str | None = None
        if self.path.is_file():
            end, self.warning = torn_tail(self.path.read_bytes(), self.path)
            if self.warning is not None:
                os.truncate(self.path, end)

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        completion = stamp(self.inner.complete(messages, purpose=purpose, seed=seed,
                                               temperature=temperature, reference=reference,
                                               json_mode=json_mode))
        self.append(self.line(messages, seed, temperature, json_mode, completion))
        return completion

    def line(self, messages: Messages, seed: int | None, temperature: float | None,
             json_mode: bool, completion: Completion, prompt: bool = True) -> bytes:
        """One exchange as a transcript line; without its `prompt` (`messages` null), it
        still holds all that a replay needs: the request's key and the answer. Its call id is
        the completion's (`stamp` it first, so that the archived call can name the line)."""
        call_id = completion.attempts[-1].call_id if completion.attempts else None
        return (json.dumps({
            **({"call": call_id} if call_id is not None else {}),
            "key": request_key(self.spec, messages, seed, temperature, json_mode),
            "model": self.spec.name, "messages": messages if prompt else None, "seed": seed,
            "text": completion.text, "tokens_in": completion.tokens_in,
            "tokens_out": completion.tokens_out, "cost": completion.cost,
            "latency_s": completion.latency_s}) + "\n").encode()

    @staticmethod
    def marker(reason: str) -> bytes:
        """A line that says why the prompts after it were not recorded (replay skips it)."""
        return (json.dumps({"cut": reason}) + "\n").encode()

    def append(self, data: bytes, limit: int | None = None) -> bool:
        """One write of whole lines, unless it would take the file past `limit` bytes (then
        nothing, and False); a short one (a full disk) is taken back and raised."""
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                start = os.fstat(fd).st_size
                if limit is not None and start + len(data) > limit:
                    return False
                try:
                    written = os.write(fd, data)
                except OSError:
                    os.ftruncate(fd, start)
                    raise
                if written != len(data):
                    os.ftruncate(fd, start)
                    raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}: {self.path} took "
                                                f"{written} of {len(data)} bytes")
                return True
            finally:
                os.close(fd)


class Replayer:
    """Answers from a transcript file; an unrecorded request is a clear error. A torn last line
    is left out (`warning` says so); the file itself is never changed."""

    def __init__(self, spec: ModelSpec, path: str | Path):
        self.spec, self.path = spec, Path(path)
        if not self.path.is_file():
            raise ModelError(f"no transcript at {self.path}: record one first")
        data = self.path.read_bytes()
        end, self.warning = torn_tail(data, self.path)
        self._answers: dict[str, list[dict]] = defaultdict(list)
        for number, line in enumerate(data[:end].decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if "cut" in record:
                    continue  # a marker: the prompts after it were not recorded
                self._answers[record["key"]].append(record)
            except (ValueError, KeyError) as exc:
                raise ModelError(f"{self.path} line {number} is not a transcript record "
                                 f"({exc}): re-record it") from exc
        self._used: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def complete(self, messages: Messages, *, purpose: str = "propose",
                 seed: int | None = None, temperature: float | None = None,
                 reference: Any = None, json_mode: bool = False) -> Completion:
        key = request_key(self.spec, messages, seed, temperature, json_mode)
        with self._lock:
            answers, used = self._answers.get(key, []), self._used[key]
            if used >= len(answers):
                raise ModelError(
                    f"{self.path} has no {'further ' if used else ''}recorded answer for this "
                    f"{self.spec.name} request (key {key[:12]}): record the campaign again")
            self._used[key] += 1
        r = answers[used]
        attempt = ModelCall(self.spec.name, purpose, r["tokens_in"], r["tokens_out"], r["cost"],
                            r["latency_s"], raw_response=r["text"], call_id=r.get("call"))
        return Completion(self.spec.name, r["text"], r["tokens_in"], r["tokens_out"], r["cost"],
                          r["latency_s"], (attempt,))


TRANSCRIPT_FILE = "transcript.jsonl"
_CALL = b'{"call": "'


def transcript_of(run_dir: Path, config: Mapping[str, Any]) -> Path:
    """Where a campaign's exchanges are written: its own `transcript.jsonl`, or for a replayed
    campaign (config `replay`), the transcript it replays, whose call ids its calls carry."""
    replay = config.get("replay")
    own = Path(run_dir) / TRANSCRIPT_FILE
    return own if replay is None or own.is_file() else Path(replay)


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One recorded exchange: the prompt a model was sent and what it answered."""

    call_id: str
    model: str
    messages: Messages | None
    """None when the record left its prompt out (past the agent model's byte caps)."""
    text: str
    seed: int | None


class TranscriptIndex:
    """Prompts and answers by call id (`ModelCall.call_id`), read from a transcript file.

    A long campaign's transcript runs to gigabytes of prompts, so only where each record starts
    is kept, and a record is read when asked for. The file grows while a campaign runs, so it
    is indexed on from where the last look stopped. Safe to share between threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._indexed = 0
        self._where: dict[str, int] = {}
        self._lock = threading.Lock()

    def exchange(self, call_id: str | None) -> Exchange | None:
        """The exchange with this call id, or None (no id, no transcript, no such record)."""
        return self.exchanges([call_id]).get(call_id) if call_id else None

    def exchanges(self, call_ids: list[str | None]) -> dict[str, Exchange]:
        """The exchanges of these call ids that the transcript holds, by id (one pass over the
        part of the file not indexed yet, then one read per record)."""
        wanted = [c for c in call_ids if c]
        if not wanted or not self.path.is_file():
            return {}
        found = {}
        with self._lock, self.path.open("rb") as file:
            self._index_on(file)
            for call_id in wanted:
                start = self._where.get(call_id)
                if start is None:
                    continue
                file.seek(start)
                r = json.loads(file.readline())
                found[call_id] = Exchange(call_id, r["model"], r.get("messages"), r["text"],
                                          r.get("seed"))
        return found

    def _index_on(self, file: BinaryIO) -> None:
        file.seek(self._indexed)
        for line in file:
            if not line.endswith(b"\n"):
                break  # a line still being written: indexed on the next look
            if line.startswith(_CALL):  # records with ids begin so (Recorder.line): the id is
                end = line.find(b'"', len(_CALL))  # read without parsing a long prompt
                self._where[line[len(_CALL):end].decode("ascii", "replace")] = self._indexed
            self._indexed += len(line)
