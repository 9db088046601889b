"""Baseline, a broken drift (the floor): a penalty with a slope at ratio 1, |ratio - 1| times
|adv|. It is not zero-gradient where the policy has not moved yet, so from the first step it
cancels or reverses the surrogate's gradient for half the samples; in the LPO prototype a drift
sloped at ratio 1 never learned CartPole. Drifts that work are zero and flat at ratio 1."""
import torch
from drift_graph import trace


# EVOLVE-BLOCK-START
def drift(ratio, adv, eps, log_ratio, progress):
    return 2.0 * torch.abs(ratio - 1) * torch.abs(adv)
# EVOLVE-BLOCK-END


def objective():
    return trace(drift)
