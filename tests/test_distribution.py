import pytest

from tfprune_rl.pruning import layer_sparsities

SHAPES = [(4, 256), (256, 256), (256, 2)]  # CartPole MLP at width 4


def _overall(shapes, sparsities):
    sizes = [a * b for a, b in shapes]
    return sum(s * n for s, n in zip(sparsities, sizes)) / sum(sizes)


def test_uniform_prunes_every_kernel_to_the_target():
    assert layer_sparsities(SHAPES, 0.9, "uniform") == [0.9, 0.9, 0.9]


@pytest.mark.parametrize("target", [0.5, 0.9, 0.95, 0.99])
def test_erk_overall_sparsity_equals_target(target):
    sparsities = layer_sparsities(SHAPES, target, "erk")
    assert _overall(SHAPES, sparsities) == pytest.approx(target, abs=1e-9)
    assert all(0.0 <= s < 1.0 for s in sparsities)


def test_erk_matches_the_formula_worked_by_hand():
    # density_l = eps * (n_in + n_out) / (n_in * n_out). At 95% the 256x2 head would get
    # density > 1, so it stays dense and eps is solved over the other two layers:
    # eps * (260/1024 * 1024 + 512/65536 * 65536) = 0.05 * 67072 - 512  ->  eps = 2841.6 / 772
    eps = (0.05 * 67072 - 512) / 772
    expected = [1 - eps * 260 / 1024, 1 - eps * 512 / 65536, 0.0]
    assert layer_sparsities(SHAPES, 0.95, "erk") == pytest.approx(expected, abs=1e-12)


def test_erk_at_zero_sparsity_is_dense():
    assert layer_sparsities(SHAPES, 0.0, "erk") == [0.0, 0.0, 0.0]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="unknown sparsity distribution 'snip'"):
        layer_sparsities(SHAPES, 0.9, "snip")
    with pytest.raises(ValueError, match=r"sparsity=1.0 must be in \[0, 1\)"):
        layer_sparsities(SHAPES, 1.0, "erk")
