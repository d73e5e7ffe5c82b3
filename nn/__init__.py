"""chainrule's networks: neurons, layers, losses, optimizers, training, data, model files.

The seed network "L1 → sigmoid → L2 → loss", trained by backpropagation nobody wrote by hand:

>>> import random, nn
>>> from nn import optim
>>> random.seed(0)
>>> X, y = nn.data.animals(n=60)
>>> X = [[w / 10, l / 50] for w, l in X]           # weights in 10 kg, lengths in 50 cm
>>> model = nn.Sequential(nn.Layer(2, 4), nn.Sigmoid(), nn.Layer(4, 2))
>>> history = nn.fit(model, X, y, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5),
...                  epochs=40, progress=False)
>>> history.loss[-1] < history.loss[0]
True
"""

from autograd import Parameter

from . import data, optim
from .files import load, save
from .gpt import GPT, AttentionHead, Block, CausalSelfAttention, Embedding, RMSNorm
from .layers import MLP, Layer, Neuron, ReLU, Sequential, Sigmoid, Tanh, softmax
from .losses import BCELoss, CrossEntropyLoss, HingeLoss, Loss, MSELoss
from .module import Module
from .torch_bridge import from_torch, to_torch
from .train import History, fit

__all__ = [
    "Module", "Parameter", "Neuron", "Layer", "Sigmoid", "Tanh", "ReLU", "Sequential", "MLP", "softmax",
    "Loss", "MSELoss", "BCELoss", "CrossEntropyLoss", "HingeLoss", "optim", "fit", "History", "data",
    "save", "load", "Embedding", "RMSNorm", "AttentionHead", "CausalSelfAttention", "Block", "GPT",
    "to_torch", "from_torch",
]
