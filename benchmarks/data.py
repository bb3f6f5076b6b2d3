"""Generated data: N models over 10 namespaces, 1% of them changed against the registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry.entry import Entry
from registry.names import convention_endpoint

NAMESPACE_COUNT = 10
CHANGED_EVERY = 100  # 1% of the models differ between the manifest and the registry


@dataclass(frozen=True)
class Model:
    name: str
    namespace: str  # where the manifest (and the cluster) has it
    enabled: bool
    registered_namespace: str | None  # where the registry has it; None: not registered yet


@dataclass(frozen=True)
class Dataset:
    environment: str
    models: tuple[Model, ...]
    manifest: Path

    def registered(self) -> list[Entry]:
        """The pre-populated registry: every model but the new ones, as they were."""
        return [
            Entry(
                model_name=m.name,
                environment=self.environment,
                namespace=m.registered_namespace,
                endpoint=convention_endpoint(m.name, self.environment, m.registered_namespace),
                managed_by="manifest",
            )
            for m in self.models
            if m.registered_namespace is not None
        ]

    def served(self) -> list[tuple[str, str, str]]:
        """(model, environment, namespace) of the Deployments and Services the cluster has."""
        return [(m.name, self.environment, m.namespace) for m in self.models if m.enabled]


def generate(count: int, environment: str, prefix: str, folder: Path) -> Dataset:
    """``count`` models in namespaces ``{prefix}-0`` .. ``{prefix}-9``.

    Of every hundredth model a third are new (not registered), a third are
    disabled in the manifest, a third moved to the next namespace: creates,
    disables and updates in one plan.
    """
    namespaces = [f"{prefix}-{k}" for k in range(NAMESPACE_COUNT)]
    models = []
    for i in range(count):
        name, home = f"model-{i:06d}", namespaces[i % NAMESPACE_COUNT]
        change = (i // CHANGED_EVERY) % 3 if i % CHANGED_EVERY == 0 else None
        models.append(
            Model(
                name=name,
                namespace=namespaces[(i + 1) % NAMESPACE_COUNT] if change == 2 else home,
                enabled=change != 1,
                registered_namespace=None if change == 0 else home,
            )
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{environment}.yaml"
    path.write_text(manifest_text(environment, namespaces[0], models), encoding="utf-8")
    return Dataset(environment, tuple(models), path)


def manifest_text(environment: str, namespace: str, models: list[Model]) -> str:
    # Compact, as people write it: 100,000 models must stay under the 5 MiB file bound.
    lines = [
        "apiVersion: registry.vllm.ai/v1",
        "kind: ModelRegistry",
        "metadata:",
        f"  environment: {environment}",
        "spec:",
        f"  namespace: {namespace}",
        "  port: 8000",
        "  models:",
    ]
    for m in models:
        lines.append(f"  - name: {m.name}")
        if m.namespace != namespace:
            lines.append(f"    namespace: {m.namespace}")
        if not m.enabled:
            lines.append("    enabled: false")
    return "\n".join(lines) + "\n"
