"""Optimizer settings are checked whenever they are set (when the optimizer is made, or later in a
schedule), never at some later step."""

from __future__ import annotations

import math
import random

import pytest
from conftest import needs_torch, torch

import nn
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


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.1)])
@pytest.mark.parametrize("name, bad", [("lr", math.nan), ("lr", math.inf), ("lr", -0.1), ("lr", 0.0), ("lr", "0.1"),
                                       ("lr", 10**400), ("weight_decay", math.nan)])
def test_a_setting_changed_mid_training_is_checked_as_at_construction(make, name, bad):
    params = _params()
    opt = make(params)
    for p in params:
        p.grad = 0.5
    opt.step()
    before = [p.data for p in params]
    with pytest.raises(ValueError, match=f"{type(opt).__name__} {name} must be"):
        setattr(opt, name, bad)
    opt.step()  # the last good setting still holds: every weight stays finite
    assert all(math.isfinite(p.data) and p.data != b for p, b in zip(params, before))


def test_adams_betas_and_eps_set_later_are_checked_and_a_good_schedule_is_kept():
    np = pytest.importorskip("numpy")
    opt = optim.Adam(_params(), lr=0.1)
    with pytest.raises(ValueError, match="Adam beta2 must be below 1"):
        opt.betas = (0.9, 1.0)
    with pytest.raises(ValueError, match="Adam eps must be > 0"):
        opt.eps = 0.0
    opt.lr = np.float64(0.05)  # a schedule's value, kept as a float
    assert type(opt.lr) is float and opt.lr == 0.05 and opt.betas == (0.9, 0.999)


def test_a_nan_lr_set_during_compiled_training_is_refused_and_training_goes_on():
    pytest.importorskip("numpy")
    random.seed(0)
    model = nn.GPT(vocab_size=5, block_size=4, n_embd=4, n_head=2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    with model.compiled_step(opt) as step:
        step([4, 1, 2, 4])
        with pytest.raises(ValueError, match="Adam lr must be a finite number"):
            opt.lr = math.nan
        loss = step([4, 1, 2, 4])
    assert math.isfinite(loss) and all(math.isfinite(p.data) for p in model.parameters())
