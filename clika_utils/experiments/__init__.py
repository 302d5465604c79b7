"""The experiments: one module per notebook, named like it, plus :mod:`.shared` (what they share).

An experiment module imports the library (``clika_utils.*``) and :mod:`.shared`, never another
experiment; the library never imports an experiment (``tests/test_layers.py`` checks both). Each
module declares its notebook's frozen :class:`~clika_utils.config.ExperimentConfig` (``Config``), a
``run(config)`` that computes and writes the results with the config in every sidecar, ``load`` and
``findings`` that read them back, and ``CLAIMS``: the papers' claims it measures
(:mod:`clika_utils.claims`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: notebook stem -> experiment module
NOTEBOOKS = {
    "00_tour": "tour",
    "01_performance_consistency": "performance_consistency",
    "02_live_evaluation": "live_evaluation",
    "03_conductivity": "conductivity",
    "04_pretraining_variants": "pretraining_variants",
    "05_instruction_tuning": "instruction_tuning",
    "06_cross_lingual_instruction_tuning": "cross_lingual_instruction_tuning",
    "07_scaling_laws": "scaling_laws",
    "08_data_allocation": "data_allocation",
    "09_representation_alignment": "representation_alignment",
}


def module(notebook: str) -> ModuleType:
    """The experiment module of ``notebook`` (its stem)."""
    return importlib.import_module(f"{__name__}.{NOTEBOOKS[notebook]}")
