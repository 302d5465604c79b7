"""clika_utils: the computation behind the clika-repro notebooks.

Layers (see ARCHITECTURE.md): the library (every module of this folder but the applications), the
experiments (:mod:`clika_utils.experiments`: one module per notebook, plus ``shared``), and the
applications (``cli``: the `clika` command, ``runner``: the papermill batch, ``report``, ``figcheck``).
"""

__version__ = "0.1.0"


def _quiet_known_noise() -> None:
    """Two warnings every notebook would show a reader, neither about this project's numbers: tqdm's
    "IProgress not found" (transformers imports ``tqdm.auto``; without ipywidgets the text bar is used, which
    is what we want) and a deprecation transformers raises inside its own gradient-checkpointing check when
    peft wraps a model. Filtered by message, so any other warning still shows."""
    import warnings
    warnings.filterwarnings("ignore", message=r"IProgress not found")
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)


_quiet_known_noise()
