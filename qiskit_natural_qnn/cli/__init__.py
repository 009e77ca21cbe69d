"""The ``qnqnn`` command line: one package at the edge of the library (nothing in the library imports it).

* :mod:`~qiskit_natural_qnn.cli.app`: the main parser and :func:`main`;
* :mod:`~qiskit_natural_qnn.cli.options`, :mod:`~qiskit_natural_qnn.cli.argtypes` and
  :mod:`~qiskit_natural_qnn.cli.runtime`: what the subcommands share (options defined once,
  argument types, device, data and exit statuses);
* one module per subcommand or family: ``train``, ``evaluate`` (with ``execution`` for
  ``--backend``), ``circuits``, ``experiments`` (``sweep``) and ``hardware`` (``noise-sweep``,
  ``borderline``, ``estimate``).
"""

from __future__ import annotations

from qiskit_natural_qnn.cli.app import main

__all__ = ["main"]
