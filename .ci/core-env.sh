#!/usr/bin/env bash
# The core without the optional providers, in its own environment (.venv-core):
#   1. install PyTorch, then the project with no extra (no qiskit-ibm-runtime, qiskit-ionq,
#      qiskit-machine-learning, matplotlib) plus only the test tools (pytest, hypothesis, mpmath);
#   2. check that the provider SDKs and qiskit-machine-learning are NOT importable;
#   3. import every module of the installed package: each must import, except the few that need an
#      extra, which must fail only for want of that extra's package;
#   4. run the README's main command on one epoch (`qnqnn train`);
#   5. run the test suite: tests that need an extra skip (pytest.importorskip / skipif).
# Called by .ci/run; runs alone too: bash .ci/core-env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 MPLBACKEND=Agg PYTHONUNBUFFERED=1
SECONDS=0
step() { printf '\n--- core env: %s (at %d s)\n' "$1" "$SECONDS"; }

step "a fresh .venv-core"
rm -rf .venv-core
python3 -m venv .venv-core
bin="$PWD/.venv-core/bin"
py="$bin/python"
"$py" -m pip install -q torch==2.13.0
"$py" -m pip install -q . "pytest>=8" "hypothesis>=6.100" "mpmath>=1.3"

step "the optional packages are absent"
"$py" - <<'EOF'
import importlib.util

absent = ("qiskit_ibm_runtime", "qiskit_ionq", "qiskit_machine_learning")
present = [name for name in absent if importlib.util.find_spec(name) is not None]
assert not present, f"the core install pulled optional packages: {present}"
print("not installed:", ", ".join(absent))
EOF

step "every module of the installed package imports"
# From a temporary folder, so that the installed package is imported, not the source tree.
(cd "$(mktemp -d)" && "$py" - <<'EOF'
import importlib
import pkgutil

import qiskit_natural_qnn
from qiskit_natural_qnn.optional import EXTRAS, MissingExtraError

# The modules that need an extra to import, and that extra.
NEEDS = {"qiskit_natural_qnn.ml": "ml", "qiskit_natural_qnn.experiments.plots": "plot"}

assert "site-packages" in qiskit_natural_qnn.__file__, qiskit_natural_qnn.__file__
imported, needing = [], []
for info in pkgutil.walk_packages(qiskit_natural_qnn.__path__, "qiskit_natural_qnn."):
    extra = next((e for m, e in NEEDS.items() if info.name == m or info.name.startswith(m + ".")), None)
    try:
        importlib.import_module(info.name)
    except (MissingExtraError, ModuleNotFoundError) as exc:
        missing = getattr(exc, "name", None) or ""
        if extra is None or (missing.split(".")[0] not in EXTRAS[extra] and not isinstance(exc, MissingExtraError)):
            raise AssertionError(f"{info.name} does not import without extras: {exc!r}") from exc
        needing.append(f"{info.name} [{extra}]")
        continue
    if extra is not None:
        raise AssertionError(f"{info.name} is listed as needing [{extra}] but imports without it; update NEEDS")
    imported.append(info.name)
print(f"{len(imported)} modules import without extras; {len(needing)} need one: {', '.join(needing)}")
EOF
)

step "the README's main command, one epoch"
(cd "$(mktemp -d)" && "$bin/qnqnn" train --a 0.5 --epochs 1 --no-progress --out run)

step "the test suite (tests that need an extra skip)"
"$py" -m pytest tests -o addopts="-ra" -q -p no:cacheprovider

step "done"
