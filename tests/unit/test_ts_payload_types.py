"""The checked-in TS payload types match what the msgspec schemas generate today."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from signaling.schema_export import TITLES, payload_schema
from signaling.schemas import EVENTS

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "signaling" / "client" / "payloads.gen.ts"
REFRESH = "npm run gen:types  (with PYTHON=.venv/bin/python; `make js` runs it too)"


def test_every_client_event_has_its_payload_in_the_schema() -> None:
    schema = payload_schema()
    for namespace, title in TITLES.items():
        assert set(schema["properties"][title]["properties"]) == set(EVENTS[namespace])
    json.dumps(schema)  # plain JSON, nothing msgspec-specific left in it


def test_checked_in_payload_types_are_fresh(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to generate the TS payload types"
    assert (ROOT / "node_modules" / ".bin" / "json2ts").exists(), \
        "node_modules/.bin/json2ts is missing: run `npm ci` first"
    out = tmp_path / "payloads.gen.ts"
    env = {**os.environ, "PYTHON": sys.executable, "PAYLOADS_TS": str(out)}
    run = subprocess.run([npm, "run", "--silent", "gen:types"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, f"gen:types failed:\n{run.stdout}\n{run.stderr}"
    assert out.read_text(encoding="utf-8") == CHECKED_IN.read_text(encoding="utf-8"), (
        f"{CHECKED_IN.relative_to(ROOT)} is stale: the payload schemas in signaling/schemas.py "
        f"changed. Refresh it with: {REFRESH}")
