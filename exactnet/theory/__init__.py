"""Theory: exact region bounds, neuron thresholds for 1-D functions, constructions.

- :mod:`exactnet.theory.bounds`: Zaslavsky, Montufar (2014, 2017) and Serra et al.
  (ICML 2018, arXiv 1711.02114, Thms 1, 5, 6) bounds, as exact integers.
- :mod:`exactnet.theory.thresholds`: exact 1-D piecewise-linear functions, the minimal
  number of ReLU neurons that write one (and a network that does), the depth threshold
  prod(n_l + 1) >= p and the sawtooth networks that attain it.
"""

from .bounds import (
    all_bounds,
    montufar2014_lower,
    montufar2017_upper,
    serra_thm1_upper,
    serra_thm5_1d,
    serra_thm6_lower,
    zaslavsky,
    zaslavsky_rank,
)
from .thresholds import (
    PiecewiseLinear1D,
    depth_threshold_ok,
    min_width_for_depth,
    minimal_network,
    minimal_neurons,
    right_oriented_subset,
    sawtooth_network,
    sawtooth_segment,
    subset_with_sum,
    zigzag,
)

__all__ = [
    "zaslavsky",
    "zaslavsky_rank",
    "montufar2014_lower",
    "montufar2017_upper",
    "serra_thm1_upper",
    "serra_thm5_1d",
    "serra_thm6_lower",
    "all_bounds",
    "PiecewiseLinear1D",
    "subset_with_sum",
    "right_oriented_subset",
    "minimal_neurons",
    "minimal_network",
    "depth_threshold_ok",
    "min_width_for_depth",
    "zigzag",
    "sawtooth_network",
    "sawtooth_segment",
]
