"""Novelty: a proposal too similar to one of its island's best programs is refused before it
costs an evaluation (the campaign then gives the reason back to the model for a repair turn).

Cheap code similarity by default: the share of characters two programs have in common,
2 * LCS / (len a + len b), which is difflib's ratio when difflib finds the longest common
subsequence (it does on normal programs). It is computed by Myers' diff, which stops once more
edits than the threshold allows are needed, so its cost grows with those few edits, not with the
programs' size: difflib took seconds on 4 KB tables and long repeated lines. Optionally the
cosine similarity of embeddings from any embedding model litellm reaches, which also catches a
renamed copy.
"""

import collections
import difflib
import math

from archive import ModelCall, Program
from discovery.models.base import CallFailed, ModelSpec
from discovery.models.litellm_client import LiteLLMClient
from discovery.search.edits import EditError


class TextNovelty:
    def __init__(self, threshold: float):
        self.threshold = threshold

    def check(self, code: str, neighbours: list[Program]) -> list[ModelCall]:
        matcher = difflib.SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(code)  # difflib caches its index of the second sequence
        for other in neighbours:
            matcher.set_seq1(other.code)
            # the quick ratios are upper bounds: most neighbours are ruled out without a match
            if matcher.real_quick_ratio() < self.threshold or \
                    matcher.quick_ratio() < self.threshold:
                continue
            ratio = similarity(other.code, code, self.threshold)
            if ratio is not None:
                raise EditError(f"the new code is too similar to program {other.id} "
                                f"(similarity {ratio:.3f}): make a real change")
        return []


MAX_EDITS = 256
"""However low the threshold, programs more than this many character insertions and deletions
apart are not near-copies: this bounds the check at about MAX_EDITS ** 2 / 2 steps."""


def similarity(a: str, b: str, threshold: float) -> float | None:
    """2 * LCS / (len a + len b) when it is at least `threshold`, else None."""
    total = len(a) + len(b)
    if total == 0:
        return 1.0
    limit = min(MAX_EDITS, math.floor((1 - threshold) * total + 1e-9))
    edits = _edits_within(a, b, limit)
    return None if edits is None else 1 - edits / total


def _edits_within(a: str, b: str, limit: int) -> int | None:
    """The fewest insertions and deletions that turn a into b, or None when more than `limit`
    are needed (Myers' greedy O((N + M) D) diff, stopped at D = limit)."""
    n, m = len(a), len(b)
    invalid = -1
    furthest = {1: 0}
    """Per diagonal k = x - y, the furthest x reached with d edits."""
    for d in range(limit + 1):
        for k in range(-d, d + 1, 2):
            down, right = furthest.get(k + 1, invalid), furthest.get(k - 1, invalid)
            x = down if k == -d or (k != d and right < down) else right + 1
            y = x - k
            if x < 0 or x > n or y < 0 or y > m:
                furthest[k] = invalid
                continue
            x += _common_prefix(a, b, x, y)
            if x >= n and x - k >= m:
                return d
            furthest[k] = x
    return None


def _common_prefix(a: str, b: str, i: int, j: int) -> int:
    """Length of the common prefix of a[i:] and b[j:], by galloping then bisecting with slice
    comparisons (C speed), so long equal runs cost a few comparisons, not one per character."""
    most = min(len(a) - i, len(b) - j)
    if most == 0 or a[i] != b[j]:
        return 0
    low, step = 1, 1
    while low < most:
        probe = min(most, low + step)
        if a[i + low:i + probe] != b[j + low:j + probe]:
            high = probe - 1
            break
        low, step = probe, step * 2
    else:
        return low
    while low < high:  # a[i:i + low] == b[j:j + low]; the first difference is before `probe`
        mid = (low + high + 1) // 2
        if a[i + low:i + mid] == b[j + low:j + mid]:
            low = mid
        else:
            high = mid - 1
    return low


class EmbeddingNovelty:
    """Cosine similarity of embeddings; the neighbours' vectors are cached by program id. If
    the embedding model fails, the text check stands in and the failed calls are recorded."""

    def __init__(self, spec: ModelSpec, threshold: float, fallback: TextNovelty,
                 cache_size: int = 4096):
        self.client, self.threshold, self.fallback = LiteLLMClient(spec), threshold, fallback
        self.cache: collections.OrderedDict[int, list[float]] = collections.OrderedDict()
        self.cache_size = cache_size

    def check(self, code: str, neighbours: list[Program]) -> list[ModelCall]:
        missing = [p for p in neighbours if p.id not in self.cache]
        try:
            vectors, calls = self.client.embed([code] + [p.code for p in missing])
        except CallFailed as exc:
            return [*exc.attempts, *self.fallback.check(code, neighbours)]
        for program, vector in zip(missing, vectors[1:], strict=True):
            self.cache[program.id] = vector
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        for other in neighbours:
            self.cache.move_to_end(other.id)
            similarity = cosine(vectors[0], self.cache[other.id])
            if similarity >= self.threshold:
                raise NoveltyError(f"the new code is too similar to program {other.id} "
                                   f"(embedding similarity {similarity:.3f}): make a real "
                                   "change", list(calls))
        return list(calls)


class NoveltyError(EditError):
    """A refusal that cost model calls, which the campaign still records."""

    def __init__(self, message: str, calls: list[ModelCall]):
        super().__init__(message)
        self.calls = calls


def cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def make_novelty(threshold: float, embedding: ModelSpec | None,
                 embedding_threshold: float) -> TextNovelty | EmbeddingNovelty:
    text = TextNovelty(threshold)
    return text if embedding is None else EmbeddingNovelty(embedding, embedding_threshold, text)
