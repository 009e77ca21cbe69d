"""The ``qnqnn`` command line: one package at the edge of the library (nothing in the library imports it)."""

from __future__ import annotations

from qiskit_natural_qnn.cli.app import main

__all__ = ["main"]
