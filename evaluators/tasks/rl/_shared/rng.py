"""Counter-based randomness for stacked agents: every random number is a hash of (the agent's
key, a stream, a counter, an index), so an agent's run does not depend on which other agents
share its batch, on the batch's order or on the device.

A `torch.Generator` per batch would hand agent 3 different numbers when agent 2 leaves the
batch; a generator per agent would need a Python loop per draw. Hashing costs a handful of
integer ops on the whole batch at once and has no state to carry (the counter is the step
number the caller already has), which also keeps the step free of sync points for CUDA graphs.

The hash is Chris Wellons' `lowbias32` (https://nullprogram.com/blog/2018/07/31/) on 32-bit
values held in int64 tensors; products wrap modulo 2^64 and are masked back to 32 bits, which
keeps the low bits exact on every backend.
"""

import torch

_MASK = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9
"""2^32 / golden ratio: spreads consecutive indices over the 32-bit space before hashing."""

STREAMS = {"init": 1, "reset": 2, "action": 3, "sticky": 4, "shuffle": 5}
"""Independent streams per agent: network init, env resets, action sampling, sticky actions,
minibatch shuffling."""


def mix(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 on int64 tensors holding 32-bit values."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK
    return x ^ (x >> 16)


def _mix_int(x: int) -> int:
    """`mix` for one Python int (keys and counters are known on the host)."""
    x &= _MASK
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _MASK
    x ^= x >> 15
    x = (x * 0x846CA68B) & _MASK
    return x ^ (x >> 16)


def agent_keys(seeds: list[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """One 32-bit key per agent from its run seed alone (int64 tensor [agents]): two agents
    with the same seed draw the same numbers (paired seeds for candidate and baseline)."""
    return torch.tensor([_mix_int(_mix_int(seed) ^ 0x5BD1E995) for seed in seeds],
                        dtype=torch.int64, device=device)


def bits(keys: torch.Tensor, stream: str, counter: int, shape: tuple[int, ...]) -> torch.Tensor:
    """32 random bits per entry of [agents, *shape] (int64), a function of (key, stream,
    counter, position) only."""
    salt = _mix_int(_mix_int(STREAMS[stream] * _GOLDEN + counter) + 0x68E31DA4)
    size = 1
    for n in shape:
        size *= n
    index = torch.arange(size, dtype=torch.int64, device=keys.device).reshape(shape)
    base = mix(keys ^ salt).reshape(-1, *([1] * len(shape)))
    return mix(mix((base + index * _GOLDEN) & _MASK) ^ salt)


def uniform(keys: torch.Tensor, stream: str, counter: int, shape: tuple[int, ...],
            dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform numbers in [0, 1) of [agents, *shape]: the top 24 bits, exact in float32."""
    return (bits(keys, stream, counter, shape) >> 8).to(dtype) * (1.0 / (1 << 24))


def seed_of(key: torch.Tensor, stream: str) -> list[int]:
    """A host-side integer seed per agent (for torch.Generator-based init done once, off the
    hot path): a function of the agent's key and the stream only."""
    return [_mix_int(int(k) ^ STREAMS[stream] * _GOLDEN) for k in key.tolist()]
