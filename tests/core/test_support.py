"""The support share and precision against closed forms, and how an excess loss is reported."""

import math

import pytest
import torch

from flowscope.core.data import load_target
from flowscope.core.exact import ExactMarginal
from flowscope.core.support import describe_excess, support_report


def test_fresh_target_samples_are_inside_and_blobs_are_not():
    """A checkerboard learned as round blobs scored well on energy distance; the support share
    sees its corners."""
    target = load_target("checkerboard")
    fresh = target.exact.sample(4000, seed=1)
    r = support_report(fresh, target.exact)
    assert r.support > 0.97 and r.t == 1.0
    # blobs: the same number of points, isotropic Gaussians at the squares' centres
    mu = target.exact.means
    centres = torch.stack([mu[:, 0].round(), mu[:, 1].round()], 1).unique(dim=0)
    blobs = ExactMarginal(centres, widths=0.45).sample(4000, seed=2)
    b = support_report(blobs, target.exact)
    assert b.support < r.support - 0.1
    assert b.precision < r.precision


def test_precision_is_the_mean_exact_log_density():
    em = ExactMarginal([[0.0, 0.0]], widths=[1.0])
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    r = support_report(x, em)
    want = -math.log(2 * math.pi) - 0.25  # mean of 0 and -1/2, minus log(2 pi)
    assert r.precision == pytest.approx(want, abs=1e-12)
    # p >= 1% of the max <=> |x|^2 <= 2 log(100): 1 is inside, 4 is not
    far = support_report(torch.tensor([[1.0, 0.0], [4.0, 0.0]]), em)
    assert far.support == pytest.approx(0.5)


def test_point_targets_are_measured_just_before_one_and_say_so():
    em = ExactMarginal([[0.0, 0.0], [1.0, 1.0]], widths=0.0)
    r = support_report(em.sample(100, seed=0), em)
    assert r.t < 1.0 and r.support == 1.0


def test_non_finite_samples_count_as_outside():
    em = ExactMarginal([[0.0, 0.0]], widths=[1.0])
    r = support_report(torch.tensor([[0.0, 0.0], [float("nan"), 0.0]]), em)
    assert r.support == pytest.approx(0.5)


def test_excess_is_reported_with_its_noise():
    assert describe_excess(2.30, 2.25, 0.005) == "excess 0.0500 ± 0.0100"
    assert "within noise" in describe_excess(2.245, 2.25, 0.005)
    assert describe_excess(2.3, 2.25, None) == "excess 0.0500"
