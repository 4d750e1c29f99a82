"""Radius of a centred pulse (1-D) or disk (2-D): data, analytic networks, exact verification.

Our formulation of the task of Dagès, Lindenbaum and Bruckstein (arXiv 2303.06638),
described in docs/definitions.md: the paper's full text could not be consulted, so
the lemmas, constructions and proofs here (``proofs/pulse_lemmas.md``) are exactnet's own.
"""

from .constructions import (
    Construction,
    GlobalSumPool,
    all_constructions,
    disk_network,
    disk_readout,
    lemma1_instance,
    lemma1_network,
    lemma1_readout,
    lemma2_clamp,
    lemma2_relu,
)
from .data import disk_image, disks, lattice_count, pulse_signal, pulses
from .verify import Failure, Verdict, disk_real_radii, float_errors, verify

__all__ = [
    "Construction",
    "GlobalSumPool",
    "all_constructions",
    "disk_network",
    "disk_readout",
    "lemma1_instance",
    "lemma1_network",
    "lemma1_readout",
    "lemma2_clamp",
    "lemma2_relu",
    "disk_image",
    "disks",
    "lattice_count",
    "pulse_signal",
    "pulses",
    "Failure",
    "Verdict",
    "disk_real_radii",
    "float_errors",
    "verify",
]
