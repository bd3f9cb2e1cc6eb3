"""Bounds on what a request may ask for, shared by the engine, the GUI and the CLI.

Kept free of heavy imports, so the command line can show them in ``--help`` without loading torch.
"""

from __future__ import annotations

__all__ = ["MAX_SAMPLES", "MAX_SEED"]

MAX_SAMPLES = 16  # samples per request, in the GUI and the CLI alike
MAX_SEED = 2**63 - 1  # torch generators take signed 64-bit seeds; sample k uses seed + k
