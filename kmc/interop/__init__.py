"""Readers of other kinetic Monte Carlo codes' input files (plain numpy data out).

- :mod:`kmc.interop.kmcpy`: kMCpy's structure, composite LCE model, events and initial
  state, in kMCpy's own site order (needs the optional extra ``kmc-ion[kmcpy]``).

Nothing here builds a network or runs the engine; these modules read files and return
arrays.
"""

from __future__ import annotations
