"""clika_utils: the computation behind the clika-repro notebooks.

Layers (see ARCHITECTURE.md): the library (every module of this folder but the applications), the
experiments (:mod:`clika_utils.experiments`: one module per notebook, plus ``shared``), and the
applications (``cli``: the `clika` command, ``runner``: the papermill batch, ``report``, ``figcheck``).
"""

__version__ = "0.1.0"
