# %% slope
def slope(f, x):
    h = 1e-6
    return (f(x + h) - f(x - h)) / (2 * h)


# %% direction
direction = -1   # the slope is positive: going right goes up, so go left
