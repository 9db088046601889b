"""Baseline: Discovered Policy Optimisation (Lu, Kuba, Letcher, Metz, Schroeder de Witt,
Foerster 2022, "Discovered Policy Optimisation", https://arxiv.org/abs/2210.05639), the closed
form the paper distilled from its learned LPO drift, alpha = 2, beta = 0.6:
relu((r - 1) A - alpha tanh((r - 1) A / alpha)) for A >= 0 and
relu(log(r) A - beta tanh(log(r) A / beta)) for A < 0."""
import torch
from drift_graph import trace

# EVOLVE-BLOCK-START
ALPHA, BETA = 2.0, 0.6


def drift(ratio, adv, eps, log_ratio, progress):
    positive = (ratio - 1) * adv
    negative = log_ratio * adv
    return torch.where(adv >= 0,
                       torch.relu(positive - ALPHA * torch.tanh(positive / ALPHA)),
                       torch.relu(negative - BETA * torch.tanh(negative / BETA)))
# EVOLVE-BLOCK-END


def objective():
    return trace(drift)
