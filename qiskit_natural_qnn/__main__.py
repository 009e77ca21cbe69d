"""``python -m qiskit_natural_qnn``: the ``qnqnn`` command line."""

from __future__ import annotations

from qiskit_natural_qnn.cli.app import main

if __name__ == "__main__":
    raise SystemExit(main())
