"""Baseline (a named variant, not the paper's algorithm): SHOR-PSRO as this task read it
before the paper's Listing 6 was read (`shor.py` is the listing). Kept because it is a
different, measured solver: the README compares the two.

Each call runs ROUNDS rounds of a hybrid solver on the meta-game, the players updating in turn.
On its turn player p sees v, each member's payoff against the others' current mixtures; its
cumulative regret Q gains the regret r = v - sigma_p . v of the mixture it played, floored at
zero (regret matching plus), and it then plays

    sigma_p = (1 - lam) * ORM+(Q, r) + lam * softmax((v + bonus * (1 - sigma_p)) / temperature)

where ORM+ is optimistic regret matching plus (Q plus r once more, normalised) and the softmax
is the smoothed, temperature-controlled distribution over the best pure strategies, with a
diversity bonus for the members the mixture plays little.

- Training time: lam 0.3 -> 0.05, diversity bonus 0.05 -> 0.001 and temperature 0.5 -> 0.01,
  annealed linearly with progress (t - 1) / 75; it returns the average of the rounds' mixtures.
- Evaluation time: lam 0.01, temperature 0.001, no bonus, the last round's mixture.

Where it departs from the listing (shor.py): the regret signal is the played mixture's regret
v - sigma_p . v, not v centred on its plain mean; no momentum (the listing's beta 0.5 / 0.2);
no per-round normalisation of the gains by their largest magnitude; the diversity bonus inside
the softmax, not on the gains; 1000 rounds at both times (the listing: 1000 + 20 (K - 1) up to
5000 for training, 8000 + 50 (K - 1) up to 15000 for evaluation); an annealing counter one step
behind (t - 1 for the listing's t); and an optimistic step that adds the last regret once more
instead of momentum on the gains.
"""
import numpy as np
from psro_loop import member_payoff, run

# EVOLVE-BLOCK-START
ROUNDS, ANNEAL = 1000, 75
TRAIN_START = {"lam": 0.3, "bonus": 0.05, "temperature": 0.5}
TRAIN_END = {"lam": 0.05, "bonus": 0.001, "temperature": 0.01}
EVAL = {"lam": 0.01, "bonus": 0.0, "temperature": 0.001}


def hybrid(payoffs, lam, bonus, temperature, rounds=ROUNDS):
    """(average mixture, last mixture) per player after `rounds` rounds of the blend."""
    sizes = payoffs.shape[1:]
    regret = [np.zeros(k) for k in sizes]
    sigma = [np.full(k, 1.0 / k) for k in sizes]
    total = [np.zeros(k) for k in sizes]
    for _ in range(rounds):
        for p in range(len(sizes)):
            v = member_payoff(payoffs, sigma, p)
            last = v - np.sum(sigma[p] * v)  # fixed order: no BLAS dot
            regret[p] = np.maximum(regret[p] + last, 0.0)
            optimistic = np.maximum(regret[p] + last, 0.0)
            orm = optimistic / optimistic.sum() if optimistic.sum() > 0 \
                else np.full(len(v), 1.0 / len(v))
            bonused = v + bonus * (1.0 - sigma[p])  # the diversity bonus, in the softmax only
            smooth = np.exp((bonused - bonused.max()) / temperature)
            sigma[p] = (1 - lam) * orm + lam * smooth / smooth.sum()
            total[p] += sigma[p]
    return [s / s.sum() for s in total], sigma


def meta_solver(state, t, payoffs):
    progress = min(1.0, (t - 1) / ANNEAL)
    knobs = {key: TRAIN_START[key] + (TRAIN_END[key] - TRAIN_START[key]) * progress
             for key in TRAIN_START}
    average, _ = hybrid(payoffs, **knobs)
    return average


def eval_solver(state, t, payoffs, train):
    _, last = hybrid(payoffs, **EVAL)
    return last
# EVOLVE-BLOCK-END


def solve(psro):
    return run(meta_solver, psro, eval_solver)
