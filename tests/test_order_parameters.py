"""Order parameters q(x, x_ref): values against direct formulas, gradients against finite
differences, linear forms against values, and bad input."""
import numpy as np
import pytest

from replica.order_parameters import (
    CentredOverlap,
    Overlap,
    ProjectedOverlap,
    SquaredDistance,
    as_order_parameter,
)

RNG = np.random.default_rng(3)
N = 7
X = RNG.standard_normal((4, 3, N))
REF = RNG.standard_normal(N)
CENTRE = RNG.standard_normal(N)
BASIS = RNG.standard_normal((2, N))


def _projector(basis):
    q, _ = np.linalg.qr(basis.T)
    return q @ q.T


@pytest.mark.parametrize(
    "op, direct",
    [
        (Overlap(), lambda x: x @ REF / N),
        (CentredOverlap(CENTRE), lambda x: (x - CENTRE) @ (REF - CENTRE) / N),
        (ProjectedOverlap(BASIS), lambda x: x @ _projector(BASIS) @ REF / N),
        (SquaredDistance(), lambda x: ((x - REF) ** 2).sum(-1) / N),
    ],
)
def test_value_matches_formula_and_gradient_matches_finite_difference(op, direct):
    np.testing.assert_allclose(op(X, REF), direct(X), rtol=1e-12, atol=1e-14)
    x = X[0, 0]
    grad = op.gradient(x, REF)
    h = 1e-6
    fd = np.array([(op(x + h * e, REF) - op(x - h * e, REF)) / (2 * h) for e in np.eye(N)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    if op.linear:
        u, c0 = op.linear_form(REF)
        np.testing.assert_allclose(X @ u / N + c0, direct(X), rtol=1e-12, atol=1e-14)


def test_squared_distance_on_spins_is_two_minus_two_overlap():
    s = np.sign(RNG.standard_normal((5, 16)))
    r = np.sign(RNG.standard_normal(16))
    np.testing.assert_allclose(SquaredDistance()(s, r), 2 - 2 * Overlap()(s, r))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="reference"):
        Overlap()(X, REF[:-1])
    with pytest.raises(ValueError, match="reference"):
        Overlap()(X, np.ones((2, N)))
    with pytest.raises(ValueError, match="order_parameter"):
        as_order_parameter("magnetisation")
    with pytest.raises(ValueError, match="order_parameter"):
        SquaredDistance().linear_form(REF)
    with pytest.raises(ValueError, match="basis"):
        ProjectedOverlap(np.zeros((2, N)))
    with pytest.raises(ValueError, match="reference"):
        CentredOverlap(CENTRE)(X, REF[:3])
    assert isinstance(as_order_parameter("distance"), SquaredDistance)
