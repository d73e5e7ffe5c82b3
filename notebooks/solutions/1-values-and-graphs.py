# %% softplus
import math


def softplus_rule(x):
    # d/dx log(1 + e^x) = e^x / (1 + e^x) = 1 / (1 + e^-x): the sigmoid
    return 1 / (1 + math.exp(-x))


# %% order
order = ["a", "b", "c", "d", "e"]   # "b", "a", "c", "d", "e" works too
