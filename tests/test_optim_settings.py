"""Optimizer settings are checked when the optimizer is made, never at some later step."""

from __future__ import annotations

import math

import pytest
from conftest import needs_torch, torch

from autograd import Value
from nn import optim

BAD = [math.nan, math.inf, -math.inf, -1.0, True, "0.1", None, 10**400, -(10**400), 1e400]


def _params():
    return [Value(1.0), Value(-2.0)]


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("name", ["lr", "momentum", "weight_decay"])
def test_sgd_refuses_bad_settings_with_a_value_error(name, bad):
    settings = {"lr": 0.1, name: bad}
    with pytest.raises(ValueError, match=f"SGD {name} must be"):
        optim.SGD(_params(), **settings)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("name", ["lr", "eps", "weight_decay", "beta1", "beta2"])
def test_adam_refuses_bad_settings_with_a_value_error(name, bad):
    settings = {"betas": (bad, 0.999)} if name == "beta1" else {"betas": (0.9, bad)} if name == "beta2" else {name: bad}
    with pytest.raises(ValueError, match=f"Adam {name} must be"):
        optim.Adam(_params(), **settings)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (0.9, 1.5)])
def test_adam_betas_must_be_below_one(betas):
    with pytest.raises(ValueError, match="must be below 1"):
        optim.Adam(_params(), betas=betas)


def test_adam_eps_zero_is_refused_when_made_not_a_zero_division_at_a_step():
    with pytest.raises(ValueError, match="Adam eps must be > 0"):
        optim.Adam(_params(), eps=0.0)


def test_adam_with_the_smallest_eps_keeps_a_zero_gradient_weight_still():
    w = Value(1.5)
    opt = optim.Adam([w], lr=0.1, eps=5e-324)
    w.grad = 0.0
    opt.step()
    assert w.data == 1.5  # 0 / (0 + eps) = 0: the update is exactly nothing


@needs_torch
def test_pytorch_turns_adam_eps_zero_with_a_zero_gradient_into_nan():
    """Why eps = 0 is refused: PyTorch accepts it and silently makes the weight nan."""
    p = torch.tensor([1.5], requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.1, eps=0.0)
    p.grad = torch.zeros(1)
    opt.step()
    assert math.isnan(p.item())


def test_numpy_numbers_are_accepted_as_settings():
    np = pytest.importorskip("numpy")
    opt = optim.SGD(_params(), lr=np.float64(0.1), momentum=np.float32(0.5), weight_decay=np.int64(0))
    assert (opt.lr, opt.momentum, opt.weight_decay) == (0.1, 0.5, 0.0)
