# %% learning_rate
learning_rate = 0.5   # anything from about 0.35 to 1.0 works; 1 / mean(x²) ≈ 0.7 is a single step


# %% half_mse
def half_mse(predicted, actual):
    return sum((p - a) ** 2 / 2 for p, a in zip(predicted, actual)) / len(actual)
