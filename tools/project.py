"""The project the tools inspect: its root and its name (read from Pulumi.yaml, defined nowhere else)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import yaml

ROOT: Final = Path(__file__).resolve().parent.parent
PROJECT: Final[str] = str(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"])
