# %% xor
xor_settings = {"hidden": 8, "activation": "tanh", "lr": 0.05, "epochs": 60}
