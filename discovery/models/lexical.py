"""The offline embedding: hashed character-trigram counts (`lexical`).

A lexical embedding, not a neural one: two texts are near when they share spellings (the same
goal, the same room names, a near-copy of a program), not when they mean the same thing in
other words. It needs no model, no network and no memory beyond the vector, and it is
deterministic, so a memory that retrieves by `embed` can be searched and tested offline; name a
real embedding model (`[agent_model.embedding] name = "openai/text-embedding-3-small"`) for
semantic similarity. The mock server (discovery/doubles/mock_server.py) answers
`/v1/embeddings` with the same vectors, so the litellm path and this one agree in tests.
"""

import math
import time
import zlib

from archive.records import ModelCall

LEXICAL = "lexical"
"""The embedding model name that selects these vectors."""
DIMENSIONS = 256


def trigram_embedding(text: str, dims: int = DIMENSIONS) -> list[float]:
    """Hashed character-trigram counts, unit length (all zeros for a text under 3 characters),
    so near-identical texts get cosine similarity near 1."""
    vector = [0.0] * dims
    for i in range(len(text) - 2):
        vector[zlib.crc32(text[i:i + 3].encode()) % dims] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class LexicalEmbedder:
    """`LiteLLMClient.embed`'s shape for the lexical embedding: the vectors and the one call to
    record (its tokens: the texts' UTF-8 bytes, the bound the budgets reserved; free)."""

    def embed(self, texts: list[str], *, purpose: str = "embedding"
              ) -> tuple[list[list[float]], tuple[ModelCall, ...]]:
        start = time.monotonic()
        vectors = [trigram_embedding(text) for text in texts]
        tokens = sum(len(text.encode()) for text in texts)
        return vectors, (ModelCall(LEXICAL, purpose, tokens, 0, 0.0,
                                   round(time.monotonic() - start, 4)),)
