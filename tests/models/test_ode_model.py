"""ODE problems with exact answers, swept over every shipped tableau (the cell), the solver switch, dtypes and devices."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torchdiffeq

from engine.errors import ConfigError, SolverError
from models.butcher_tableau import load_tableau, shipped_tableaus
from models.competition_field import CompetitionField
from models.ode_cell import ODECell
from models.ode_model import ODEModel

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class LinearField(nn.Module):
    """``dx/dt = A x``: the exact solution is ``expm(A t) x0``."""

    autonomous = True

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, t, x):
        return x @ self.a.T


class Forced(nn.Module):
    """``dx/dt = cos t``, not autonomous: ``x(t) = x0 + sin t - sin t0``."""

    def forward(self, t, x):
        return torch.cos(t).reshape(-1, 1).expand_as(x) if torch.is_tensor(t) else math.cos(t) * torch.ones_like(x)


def problems() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    m = torch.randn(3, 3, generator=g, dtype=torch.float64)
    return {
        "decay": torch.tensor([[-1.0]], dtype=torch.float64),
        "oscillator": torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64),
        "linear_system": m - m.T - 0.5 * torch.eye(3, dtype=torch.float64),
    }


def exact(a: torch.Tensor, x0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    return torch.stack([x0 @ torch.linalg.matrix_exp(a * t).T for t in times], dim=1)


def global_error(method: str, a: torch.Tensor, h: float, dtype=torch.float64) -> float:
    x0 = torch.ones(2, a.shape[0], dtype=dtype)
    times = torch.tensor([0.0, 1.0, 2.0], dtype=dtype)
    model = ODEModel(LinearField(a.to(dtype)), "cell", method, step_size=h)
    with torch.no_grad():
        return float((model(x0, times) - exact(a.to(dtype), x0, times)).abs().max())


@pytest.mark.parametrize("problem", sorted(problems()))
@pytest.mark.parametrize("method", shipped_tableaus())
def test_each_tableau_converges_at_its_order(method: str, problem: str):
    a, order = problems()[problem], load_tableau(method).order
    errors = [global_error(method, a, h) for h in (0.04, 0.02, 0.01)]
    observed = math.log2(errors[1] / errors[2])
    assert order - 0.25 < observed < order + 0.35, (errors, observed)


def test_a_tableau_given_as_data_works_like_a_shipped_one():
    ralston = {"a": [[], ["2/3"]], "b": ["1/4", "3/4"], "c": [0, "2/3"], "order": 2, "name": "ralston"}
    a = problems()["oscillator"]
    errors = [global_error(ralston, a, h) for h in (0.1, 0.05)]
    assert 1.8 < math.log2(errors[0] / errors[1]) < 2.3
    assert global_error(ralston, a, 0.05) < global_error("euler", a, 0.05) / 10


def test_the_posts_forward_solve_equals_a_plain_euler_loop():
    """True parameters, Euler h = 0.1 from (100, 150): the unrounded values at the observed times, to 1e-3."""
    r1, r2, a1, a2, in1, in2 = 0.1, 0.3, 1e-4, 2e-4, 0.002, 0.003
    x1, x2, reference = 100.0, 150.0, {}
    for n in range(1, 421):  # a plain float64 loop, written out
        x1, x2 = (x1 + 0.1 * (r1 * x1 * (1 - x1 * in1) - a1 * x1 * x2),
                  x2 + 0.1 * (r2 * x2 * (1 - x2 * in2) - a2 * x1 * x2))
        reference[n] = (x1, x2)
    times = [0, 10, 15, 30, 36, 40, 42]
    model = ODEModel(CompetitionField(r1, r2, a1, a2, in1, in2).double(), "cell", "euler", step_size=0.1)
    with torch.no_grad():
        out = model(torch.tensor([[100.0, 150.0]], dtype=torch.float64), torch.tensor([times], dtype=torch.float64))
    expected = torch.tensor([[100.0, 150.0]] + [reference[10 * t] for t in times[1:]], dtype=torch.float64)
    torch.testing.assert_close(out[0], expected, rtol=0, atol=1e-3)
    assert abs(float(out[0, 5, 0]) - 318.49986) < 1e-4  # the post's table rounds this to 318


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_our_rk38_is_torchdiffeqs_rk4_and_the_switch_changes_only_the_solver(dtype, device):
    """torchdiffeq's ``rk4`` takes Kutta's 3/8-rule step; our ``rk38`` cell is that step."""
    field = CompetitionField(0.1, 0.3, 1e-4, 2e-4, 0.002, 0.003).to(device, dtype)
    x0 = torch.tensor([[100.0, 150.0], [80.0, 40.0]], dtype=dtype, device=device)
    times = torch.arange(0, 43, 1.0, dtype=dtype, device=device)
    ours = ODEModel(field, "cell", "rk38", step_size=0.5)(x0, times)
    theirs = torchdiffeq.odeint(field, x0, times, method="rk4", options={"step_size": 0.5}).transpose(0, 1)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    torch.testing.assert_close(ours, theirs, rtol=tol, atol=tol * 100)
    switched = ODEModel(field, "odeint", "rk4", step_size=0.5)(x0, times)
    torch.testing.assert_close(switched, theirs, rtol=tol, atol=tol * 100)
    if dtype == torch.float64:  # both fourth-order methods agree with a tight adaptive solve to O(h^4)
        tight = ODEModel(field, "odeint", "dopri5", step_size=None, rtol=1e-10, atol=1e-10)(x0, times)
        classic = ODEModel(field, "cell", "rk4", step_size=0.5)(x0, times)
        assert float((classic - tight).abs().max().detach()) < 1e-3 and float((ours - tight).abs().max().detach()) < 1e-3


def test_each_sample_is_observed_at_its_own_times():
    field = CompetitionField(0.1, 0.3, 1e-4, 2e-4, 0.002, 0.003).double()
    x0 = torch.tensor([[100.0, 150.0], [50.0, 20.0]], dtype=torch.float64)
    times = torch.tensor([[0.0, 3.3, 7.1, 40.0], [2.0, 2.5, 9.0, 12.25]], dtype=torch.float64)
    reference = torch.stack([
        ODEModel(field, "odeint", "dopri5", None, rtol=1e-11, atol=1e-11)(x0[b:b + 1], times[b])[0] for b in range(2)])
    for solver, method in (("cell", "rk4"), ("odeint", "dopri5"), ("odeint_adjoint", "dopri5"), ("odeint", "rk4")):
        model = ODEModel(field, solver, method, step_size=0.05, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(model(x0, times), reference, rtol=1e-6, atol=1e-5, msg=f"{solver} {method}")
    forced = ODEModel(Forced(), "cell", "rk4", step_size=0.01)(x0[:, :1], times)  # a field that reads t
    torch.testing.assert_close(forced[..., 0], x0[:, :1] + torch.sin(times) - torch.sin(times[:, :1]),
                               rtol=0, atol=1e-8)


def test_gradients_through_the_unrolled_solve_pass_gradcheck():
    field = CompetitionField(0.1, 0.3, 1e-4, 2e-4, 0.002, 0.003).double()
    model = ODEModel(field, "cell", "rk4", step_size=1.0, clamp=1e5)
    x0 = torch.tensor([[100.0, 150.0]], dtype=torch.float64)
    times = torch.tensor([[0.0, 10.0, 15.5, 30.0]], dtype=torch.float64)
    names = [n for n, _ in field.named_parameters()]

    def solve(*params):
        return torch.func.functional_call(model, {f"field.{n}": p for n, p in zip(names, params)}, (x0, times))

    params = tuple(p.detach().clone().requires_grad_(True) for p in field.parameters())
    assert torch.autograd.gradcheck(solve, params, eps=1e-7, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_unrolled_gradients_agree_with_the_adjoint_method():
    """Backprop through a fine RK4 unroll and the adjoint ODE of dopri5 give the same gradient (rel. 1e-5)."""
    grads = {}
    for solver, method, h in (("cell", "rk4", 0.01), ("odeint_adjoint", "dopri5", None)):
        field = CompetitionField(0.09, 0.25, 2e-4, 1e-4, 0.0025, 0.0028).double()
        model = ODEModel(field, solver, method, step_size=h, rtol=1e-11, atol=1e-11)
        out = model(torch.tensor([[100.0, 150.0]], dtype=torch.float64),
                    torch.tensor([0.0, 10.0, 20.0, 42.0], dtype=torch.float64))
        out.pow(2).sum().backward()
        grads[solver] = torch.stack([p.grad for p in field.parameters()])
    torch.testing.assert_close(grads["cell"], grads["odeint_adjoint"], rtol=1e-5, atol=0)


def test_a_stiff_system_beyond_the_stability_limit_stops_with_one_line_naming_h():
    """Euler is stable for h |lambda| <= 2; lambda = -1000 with h = 0.01 grows by 9 per step."""
    model = ODEModel(LinearField(torch.tensor([[-1000.0]])), "cell", "euler", step_size=0.01)
    with pytest.raises(SolverError, match=r"step size h = 0\.01.*lower model\.step_size"):
        model(torch.ones(1, 1), torch.tensor([0.0, 5.0]))
    stable = ODEModel(LinearField(torch.tensor([[-1000.0]])), "cell", "euler", step_size=0.001)
    assert stable(torch.ones(1, 1), torch.tensor([0.0, 5.0]))[0, 1, 0].item() == 0.0


def test_the_clamp_bounds_every_stage_derivative():
    cell = ODECell("rk4", clamp=2.0)
    field = LinearField(torch.tensor([[10.0]]))
    x = torch.ones(1, 1)
    assert cell(field, torch.zeros(1), x, 0.1).item() == pytest.approx(1 + 0.1 * 2.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"solver": "scipy"}, "model.solver"),
    ({"solver": "cell", "method": "dopri5"}, "use model.solver=odeint"),
    ({"solver": "odeint", "method": "rk38"}, "not a torchdiffeq method"),
    ({"solver": "odeint", "method": "rk4", "step_size": None}, "fixed-grid"),
    ({"solver": "cell", "step_size": -1.0}, "step_size"),
    ({"solver": "cell", "clamp": 0}, "clamp"),
])
def test_bad_solver_settings_are_one_line(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ODEModel(CompetitionField(), **kwargs)


def test_large_absolute_times_keep_their_spacing_and_the_last_grid_step_is_the_last_used():
    # Unix-like times: in float32 1e9 + 10 is 1e9, so every offset would be 0
    field = CompetitionField(0.1, 0.3, 1e-4, 2e-4, 0.002, 0.003).double()
    x0 = torch.tensor([[100.0, 150.0]], dtype=torch.float64)
    model = ODEModel(field, "cell", "rk4", step_size=0.5)
    shifted = model(x0, torch.tensor([[1e9, 1e9 + 10.0, 1e9 + 12.25]], dtype=torch.float64))
    torch.testing.assert_close(shifted, model(x0, torch.tensor([[0.0, 10.0, 12.25]], dtype=torch.float64)))
    calls = []
    field.register_forward_hook(lambda *args: calls.append(1))
    model(x0, torch.tensor([0.0, 2.25], dtype=torch.float64))  # 4 steps of 0.5, then one of 0.25: 5 x 4 stages
    assert len(calls) == 5 * 4


def test_a_field_that_does_not_match_the_data_is_one_line():
    with pytest.raises(ConfigError, match="3 species but the vector field CompetitionField has 2"):
        ODEModel(CompetitionField())(torch.ones(1, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ConfigError, match="model/field="):
        ODEModel("neural")
