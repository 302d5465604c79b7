"""Experiment configs: one frozen dataclass per notebook, the same names and types as its parameters
cell, validated, with output locations derived from profile and notebook in one place."""

import dataclasses
import json
from pathlib import Path

import pytest

from clika_utils import config, experiments, settings
from clika_utils.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("stem", list(experiments.NOTEBOOKS))
def test_config_fields_are_the_parameters_cell(stem):
    cfg = experiments.module(stem).Config
    assert cfg.NOTEBOOK == stem
    assert cfg.declared() == config.declared_parameters(ROOT / "notebooks" / f"{stem}.ipynb")
    source = "".join("".join(c["source"]) for c in json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(
        encoding="utf-8"))["cells"] if c["cell_type"] == "code")
    assert "experiment.Config.from_namespace(globals())" in source, f"{stem} does not build its config"


@pytest.mark.parametrize("profile", ("smoke", "cpu", "paper"))
@pytest.mark.parametrize("stem", list(experiments.NOTEBOOKS))
def test_every_profile_gives_a_valid_frozen_config(stem, profile):
    c = experiments.module(stem).Config.load(profile)
    assert c.profile == profile and c.record()["notebook"] == stem
    assert c.results_dir == f"outputs/{profile}/results/{stem}"
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.seed = 1
    assert experiments.module(stem).Config.from_parameters(c.to_dict()) == c      # the record rebuilds it


def test_unknown_missing_and_mistyped_parameters_are_errors_naming_the_key():
    from clika_utils.experiments import conductivity
    good = conductivity.Config.load("smoke").to_dict()
    with pytest.raises(ConfigError, match="unknown parameter 'n_contients'"):
        conductivity.Config.from_parameters({**good, "n_contients": 3})
    with pytest.raises(ConfigError, match=r"\['seed'\] missing"):
        conductivity.Config.from_parameters({k: v for k, v in good.items() if k != "seed"})
    with pytest.raises(ConfigError, match="n_continents must be a int, got '4'"):
        conductivity.Config.from_parameters({**good, "n_continents": "4"})
    with pytest.raises(ConfigError, match="render_only must be a bool"):
        conductivity.Config.load("smoke", render_only=1)
    assert conductivity.Config.load("smoke").replace(seed=3).seed == 3


def test_locations_resolve_under_the_work_folder(tmp_path, monkeypatch):
    from clika_utils.experiments import scaling_laws
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    monkeypatch.setenv("CLIKA_DATA_HOME", str(tmp_path))
    c = scaling_laws.Config.load("smoke")
    assert c.path("results_dir") == tmp_path / "outputs/smoke/results/07_scaling_laws"
    assert c.optional("accelerate_config") is None and c.optional("results_dir") == str(c.path("results_dir"))
    assert c.home() == tmp_path and c.replace(data_home="/elsewhere").home() == Path("/elsewhere")


def test_output_locations_are_derived_in_one_place():
    assert settings.output_path("cpu", "03_conductivity", "models_dir") == "outputs/cpu/models/03_conductivity"
    assert settings.output_path("cpu", "01_performance_consistency", "figures_dir") == "figures"
    assert settings.output_path("paper", "01_performance_consistency", "figures_dir") == "outputs/paper/figures"
    # 04 and 05 share the live folder (the base model is evaluated once); 05 finds 01's items and 03's XRR
    p4, p5 = config.parameters("smoke", "04_pretraining_variants"), config.parameters("smoke", "05_instruction_tuning")
    assert p4["live_dir"] == p5["live_dir"] == "outputs/smoke/live/variants"
    assert p5["items_csv"] == "outputs/smoke/results/01_performance_consistency/items.csv"
    assert p5["conductivity_dir"] == config.parameters("smoke", "03_conductivity")["results_dir"]
    assert config.parameters("smoke", "08_data_allocation")["scaling_dir"] == \
        config.parameters("smoke", "07_scaling_laws")["results_dir"]
    assert config.parameters("paper", "09_representation_alignment")["variant_dirs"] == [
        "outputs/paper/models/06_cross_lingual_instruction_tuning", "outputs/paper/models/08_data_allocation"]
    assert config.parameters("cpu", "09_representation_alignment", variant_dirs=["x/{profile}"])["variant_dirs"] == \
        ["x/cpu"]
    assert config.parameters("smoke", "03_conductivity", results_dir="elsewhere")["results_dir"] == "elsewhere"
    with pytest.raises(ConfigError, match="not a derived output location"):
        settings.output_path("cpu", "03_conductivity", "data_dir")


def test_params_files_hold_no_derived_output_location():
    """A profile file keeps only what differs between profiles: no outputs/<profile>/… path."""
    for f in sorted((ROOT / "params").glob("*/*.yaml")):
        text = f.read_text(encoding="utf-8")
        assert f"outputs/{f.stem}/" not in text, f"{f.relative_to(ROOT)} spells out a derived path"


def test_cpu_profile_pins_its_precision():
    """The cpu profile's numbers must not depend on the reader's CPU: `precision: auto` would train in bf16 on
    CPUs with native bf16 and in fp32 elsewhere, so every cpu params file that trains pins fp32."""
    import yaml
    from clika_utils.settings import project_root
    training = 0
    for p in sorted((project_root() / "params").glob("*/cpu.yaml")):
        cfg = (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("train_config")
        if cfg is not None:
            training += 1
            assert cfg.get("precision") == "fp32", f"{p}: train_config.precision must be fp32"
    assert training >= 6


def test_cpu_profiles_pin_their_thread_count(monkeypatch):
    """The cpu/smoke numbers must not depend on the reader's core count either (fp32 sums split across threads
    differ in their last bits): building a cpu config sets torch's pool to the profile's count, whatever it was;
    the paper profile leaves it alone."""
    import torch
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        experiments.module("01_performance_consistency").Config.load("cpu")
        assert torch.get_num_threads() == settings.PROFILE_THREADS["cpu"] == 2
        assert settings.fix_threads("paper") is None and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
