"""Baseline: no drift, the unclipped importance-sampled surrogate (Kakade & Langford 2002's
conservative policy iteration objective without its trust region): nothing stops the policy
moving far from the one that collected the data over PPO's several epochs."""
import torch
from drift_graph import trace


# EVOLVE-BLOCK-START
def drift(ratio, adv, eps, log_ratio, progress):
    return torch.zeros_like(ratio)
# EVOLVE-BLOCK-END


def objective():
    return trace(drift)
