# %% xor
xor_settings = {"hidden": 8, "activation": "tanh", "lr": 0.05, "epochs": 60}


# %% cross_entropy
import math

def cross_entropy(scores, target):
    top = max(scores)
    return math.log(sum(math.exp(s - top) for s in scores)) + top - scores[target]
