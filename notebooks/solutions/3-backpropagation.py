# %% bias_gradients
def grad_b1(S, W2, error):
    # ∂ℓ/∂b1[j] = ∂L1_j/∂b1[j] · ∂S_j/∂L1_j · ∂L2/∂S_j · ∂ℓ/∂L2 = 1 · S_j(1 − S_j) · W2[j] · (ŷ − y)
    return [s * (1 - s) * w * error for s, w in zip(S, W2)]


# %% w2_gradients
def grad_W2(S, error):
    # ∂ℓ/∂W2[j] = ∂L2/∂W2[j] · ∂ℓ/∂L2 = S_j · (ŷ − y)
    return [s * error for s in S]
