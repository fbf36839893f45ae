"""The layering of DESIGN.md holds: `lint-imports` keeps every contract in pyproject.toml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_every_import_contract_is_kept() -> None:
    # --no-cache: the suite must not write a cache folder into the checkout.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout
