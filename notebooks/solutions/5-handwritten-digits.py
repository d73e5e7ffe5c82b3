# %% accuracy_from
def accuracy_from(counts):
    right = sum(counts[k][k] for k in range(len(counts)))
    return right / sum(sum(row) for row in counts)


# %% softmax
import math

def softmax(scores):
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]
