"""The client side must work without the server extras: no FastAPI, sympy, math-verify or torch."""

from __future__ import annotations

import subprocess
import sys

BLOCK = (
    "import sys\nfor name in ('fastapi', 'uvicorn', 'sympy', 'math_verify', 'torch', 'transformers'):\n"
    "    sys.modules[name] = None\n"
)


def test_clients_and_the_score_command_import_without_server_extras() -> None:
    code = BLOCK + (
        "import clients, clients.trl, clients.verl, clients.openrlhf, clients.score_file\n"
        "from service.cli import app\nprint('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    help_text = subprocess.run(
        [sys.executable, "-c", BLOCK + "from service.cli import app\napp()", "score", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin"},
    )
    assert help_text.returncode == 0 and "JSONL" in help_text.stdout, help_text.stderr
