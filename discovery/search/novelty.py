"""Novelty: a proposal too similar to one of its island's best programs is refused before it
costs an evaluation (the campaign then gives the reason back to the model for a repair turn).

Cheap code similarity by default (difflib's ratio); optionally the cosine similarity of
embeddings from any embedding model litellm reaches, which also catches a renamed copy.
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
            ratio = matcher.ratio()
            if ratio >= self.threshold:
                raise EditError(f"the new code is too similar to program {other.id} "
                                f"(similarity {ratio:.3f}): make a real change")
        return []


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
