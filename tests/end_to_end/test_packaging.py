"""`pip install .` into a clean virtual environment works from any folder."""

import os
import subprocess
import sys
import venv
import zipfile

from tests.helpers import ROOT, stop_embedded


def test_wheel_ships_schemas_and_migrations_and_runs_anywhere(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
    )
    [wheel] = wheels.glob("vllm_model_registry-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "registry/migrations/0001_initial.sql" in names
    assert any(n.startswith("schemas/") and n.endswith(".json") for n in names)
    assert "schemas/cache-entry.schema.json" in names  # the cached value's contract

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    subprocess.run([env_dir / "bin" / "pip", "install", "--quiet", str(wheel)], check=True)

    home = tmp_path / "home"
    home.mkdir()
    # No DATABASE_URL, REDIS_URL or REGISTRY_HOME: the defaults of a fresh machine.
    clean_env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    try:
        result = subprocess.run(
            [env_dir / "bin" / "registry", "list"],
            cwd=home,
            env=clean_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "Found 0 model deployment(s)"
        assert "started the embedded PostgreSQL" in result.stderr
    finally:
        stop_embedded(home / ".local/share/vllm-model-registry/postgres")
