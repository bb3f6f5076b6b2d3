"""`apply --wait` progress: a line only when something changes, never a wall of names."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler import operations
from reconciler.health import Health

ENV = "production"
MODELS = [f"model-{i:02d}" for i in range(25)]


def manifest_file(tmp_path):
    path = tmp_path / "p.yaml"
    items = "".join(f"    - name: {name}\n" for name in MODELS)
    path.write_text(
        "apiVersion: registry.vllm.ai/v1\nkind: ModelRegistry\n"
        f"metadata:\n  environment: {ENV}\nspec:\n  models:\n{items}"
    )
    return path


class Rollout:
    """A cluster whose models become Healthy in steps: ``healthy_after[i]`` models are
    Healthy at the i-th observation (the last count holds from then on)."""

    def __init__(self, *healthy_after: int) -> None:
        self.steps = list(healthy_after)
        self.observed = 0

    def __call__(self, manifest, desired):
        count = self.steps[min(self.observed, len(self.steps) - 1)]
        self.observed += 1
        now = datetime.now(UTC)
        return {
            entry.model_name: Health(
                "Healthy" if i < count else "Progressing", "rolling out", checked_at=now
            )
            for i, entry in enumerate(desired)
        }


def wait(conn, tmp_path, rollout, timeout=600.0):
    notes: list[str] = []
    warnings: list[str] = []
    manifests = operations.manifests([manifest_file(tmp_path)], notify=notes.append)
    plans = operations.wait_for_health(
        conn,
        manifests,
        rollout,
        timeout,
        notify=notes.append,
        warn=warnings.append,
        interval=0,
    )
    return plans, notes, warnings


def test_wait_says_a_line_only_when_the_waiting_set_changes(conn, tmp_path):
    # 6 observations with nothing new between them must not print 6 lines.
    rollout = Rollout(0, 0, 0, 10, 10, 10, 25)
    plans, notes, warnings = wait(conn, tmp_path, rollout)

    assert rollout.observed == 7
    assert len(notes) == 3, notes
    first, progress, done = notes
    assert first.startswith("Waiting for 25 deployment(s) to become healthy (")
    assert " s elapsed, " in first and " s left): " in first
    assert progress.startswith(
        "production/model-00, production/model-01, production/model-02, production/model-03, "
        "production/model-04, production/model-05, production/model-06, production/model-07, "
        "production/model-08, production/model-09 became healthy; waiting for 15 deployment(s)"
    )
    assert done.startswith("All 25 deployment(s) are healthy (")
    assert warnings == []
    assert {o.health for o in plans[0].observations} == {"Healthy"}


def test_wait_names_at_most_ten_models_then_how_many_more(conn, tmp_path):
    _, notes, _ = wait(conn, tmp_path, Rollout(0, 25))

    first = notes[0]
    named = first.split("): ", 1)[1]
    assert named.endswith(" and 15 more")
    assert named.count("production/model-") == 10
    assert "production/model-10" not in first


def test_a_timed_out_wait_names_at_most_ten_models_too(conn, tmp_path):
    _, notes, warnings = wait(conn, tmp_path, Rollout(0), timeout=0.001)

    [warning] = warnings
    assert warning.startswith("--wait timed out after 0.001 s; applying production/model-00")
    assert warning.endswith(" and 15 more as pending")
    assert not any(note.startswith("All ") for note in notes)
