"""clika_utils: the computation behind the clika-repro notebooks.

Rooms (one concern each; see ARCHITECTURE.md):
settings (paths), errors, io (strict readers, atomic writers, hashing), langs (language codes),
data (the official CLiKA layout), judge (answer judging), metrics (accuracy, RA, en-CO, bootstrap),
scoring (data tree -> tidy tables), performance (notebook 01's experiment), provenance (sidecars),
plots (one style, deterministic PNG+PDF), runner (papermill batch), cli (the `clika` command),
fetch (downloads for users with internet).
"""

__version__ = "0.1.0"
