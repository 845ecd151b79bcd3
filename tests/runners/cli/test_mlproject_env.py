"""The environment `mlflow run . -e ENTRY` builds (MLproject → python_env.yaml), as MLflow reads it.

Building it for real takes minutes (~2 GB: torch, Ray, MLflow, Streamlit), so CI checks the
spec MLflow derives from the files; the README records a real first run measured by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[3]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_mlflow_builds_a_virtualenv_from_python_env_yaml_not_conda():
    from mlflow.projects._project_spec import load_project
    from mlflow.projects.backend.local import _env_type_to_env_manager

    project = load_project(str(ROOT))
    assert project.env_type == "python_env"
    assert Path(project.env_config_path) == ROOT / "python_env.yaml"
    assert _env_type_to_env_manager(project.env_type) == "virtualenv"  # plain `mlflow run`: no conda


def test_python_env_holds_every_dependency_and_one_torch_release():
    from mlflow.utils.environment import _PythonEnv

    env = _PythonEnv.from_yaml(str(ROOT / "python_env.yaml"))
    # A full X.Y.Z: with only X.Y MLflow asks pyenv for the newest patch release and builds it.
    assert re.fullmatch(r"3\.\d+\.\d+", env.python), env.python
    needed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    have = {_name(d) for d in env.dependencies}
    assert {_name(d) for d in needed} <= have, sorted({_name(d) for d in needed} - have)
    assert "pip" in env.build_dependencies
    (torch,) = [d for d in env.dependencies if _name(d) == "torch"]
    assert re.fullmatch(r"torch==\d+\.\d+\.\d+", torch), torch  # the index decides CPU or CUDA build
    # Direct database URIs work inside the environment too.
    assert {"psycopg", "pymysql"} <= have


def test_conda_yaml_stays_for_conda_users_with_the_same_packages():
    spec = yaml.safe_load((ROOT / "conda.yaml").read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    needed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {_name(d) for d in needed} <= {_name(d) for d in pip}


def test_a_failing_entry_point_leaves_no_run_running_in_default(tmp_path):
    """`mlflow run` ends its launcher run FAILED when the entry point fails (here: an unknown idea)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "IDEALOOP_"))}
    env.update(MLFLOW_TRACKING_URI=uri, PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    cmd = [sys.executable, "-m", "mlflow", "run", str(ROOT), "-e", "stage_overfit", "--env-manager", "local"]
    out = subprocess.run(
        [*cmd, "-P", "idea=" + "e" * 32], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode != 0
    runs = MlflowClient(uri).search_runs(["0"])  # Default
    assert [r.info.status for r in runs] == ["FAILED"]
