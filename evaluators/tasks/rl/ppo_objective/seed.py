"""A PPO objective in the LPO form (Lu et al. 2022, https://arxiv.org/abs/2210.05639): the
trusted trainer minimises `-(ratio * adv - drift(ratio, adv, eps, log_ratio, progress)).mean()`.
The seed is PPO-clip's drift. `objective` traces `drift` into an operator graph (drift_graph,
trusted, next to this file); the evaluator rebuilds it from that graph and trains with it."""
import torch
from drift_graph import trace


# EVOLVE-BLOCK-START
def drift(ratio, adv, eps, log_ratio, progress):
    """How much to penalise each sample's policy change: element-wise on tensors [agents,
    minibatch]. ratio = new/old probability of the action taken, adv its advantage
    (normalised), eps the clip range (0.2), log_ratio = log(ratio), progress the fraction of
    training done (0 to 1). PPO-clip: no penalty while the ratio stays inside [1 - eps,
    1 + eps], then exactly what cancels the surrogate's gain beyond it."""
    return torch.relu((ratio - ratio.clamp(1 - eps, 1 + eps)) * adv)
# EVOLVE-BLOCK-END


def objective():
    return trace(drift)
