"""Baseline: a temporally-aware PPO-clip in the spirit of TA-LPO (Jackson, Lu, Kirsch, Lange,
Whiteson, Foerster 2024, "Discovering Temporally-Aware Reinforcement Learning Algorithms",
https://arxiv.org/abs/2402.05828), which found that learned drifts widen their trust region
early in training and tighten it late: here the clip range shrinks linearly from 2 eps at the
start to eps / 2 at the end (a hand-written schedule, not the paper's learned network)."""
import torch
from drift_graph import trace


# EVOLVE-BLOCK-START
def drift(ratio, adv, eps, log_ratio, progress):
    width = eps * (2.0 - 1.5 * progress)
    return torch.relu((ratio - torch.clamp(ratio, 1 - width, 1 + width)) * adv)
# EVOLVE-BLOCK-END


def objective():
    return trace(drift)
