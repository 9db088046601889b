"""Function minimisation: pure random search over the box."""
import random


# EVOLVE-BLOCK-START
def minimise(f, dim, budget, seed):
    """Return the best of `budget` uniformly random points."""
    rng = random.Random(seed)
    best_x, best_value = None, float("inf")
    for _ in range(budget):
        x = [rng.uniform(-5.0, 5.0) for _ in range(dim)]
        value = f(x)
        if value < best_value:
            best_x, best_value = x, value
    return best_x
# EVOLVE-BLOCK-END
