# %% accuracy_from
def accuracy_from(counts):
    right = sum(counts[k][k] for k in range(len(counts)))
    return right / sum(sum(row) for row in counts)
