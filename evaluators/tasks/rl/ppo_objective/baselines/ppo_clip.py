"""Baseline: PPO-clip (Schulman et al. 2017, https://arxiv.org/abs/1707.06347) in LPO form: the
seed, and the anchor every score is normalised by (1 = PPO)."""
import torch
from drift_graph import trace


# EVOLVE-BLOCK-START
def drift(ratio, adv, eps, log_ratio, progress):
    return torch.relu((ratio - ratio.clamp(1 - eps, 1 + eps)) * adv)
# EVOLVE-BLOCK-END


def objective():
    return trace(drift)
