"""The dependency rule, as CI enforces it with import-linter (contracts in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO_ROOT, copy_packages

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)


def _copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    copy_packages(project)
    shutil.copy(REPO_ROOT / "pyproject.toml", project / "pyproject.toml")
    return project


def test_the_project_keeps_every_import_contract(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 kept, 0 broken" in result.stdout


def test_a_lower_layer_importing_the_cli_or_a_higher_layer_breaks_the_contracts(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    with (project / "knowledge" / "revision.py").open("a", encoding="utf-8") as module:
        module.write("\nfrom handlers import help as _upward  # noqa: E402,F401\n")
    with (project / "bot" / "pipeline" / "message.py").open("a", encoding="utf-8") as module:
        module.write("\nimport bot.cli.main as _cli  # noqa: E402,F401\n")
    result = _lint(project)
    assert result.returncode != 0
    assert "knowledge.revision -> handlers.help" in result.stdout
    assert "bot.pipeline.message -> bot.cli.main" in result.stdout
    assert "0 kept, 3 broken" in result.stdout
