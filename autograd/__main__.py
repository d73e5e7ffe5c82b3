"""``python -m autograd``: micrograd's neuron, tanh(x1*w1 + x2*w2 + b), forward and backward."""

from autograd import Value

x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
out = (x1 * w1 + x2 * w2 + b).tanh()
out.backward()
print(f"out = tanh(x1*w1 + x2*w2 + b) = {out.data:.4f}")
for v in (x1, x2, w1, w2, b):
    print(f"d out / d {v.label:<2} = {v.grad:+.4f}")
