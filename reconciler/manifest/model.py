"""The manifest as values: one environment's desired models (docs/architecture.md, "Data flow")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry import names
from registry.entry import Entry
from registry.vocabulary import Manager, Status

from .findings import Location

API_VERSION = "registry.vllm.ai/v1"
KIND = "ModelRegistry"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    namespace: str
    endpoint: str
    enabled: bool = True
    explicit_endpoint: bool = False  # False: the naming convention gave the endpoint
    line: int = 0
    column: int = 0

    def entry(self, environment: str) -> Entry:
        """The registry entry this model asks for (kube health not yet applied)."""
        status = Status.READY if self.enabled else Status.DISABLED
        return Entry(
            self.name,
            environment,
            self.namespace,
            self.endpoint,
            status,
            managed_by=Manager.MANIFEST,
        )


@dataclass(frozen=True)
class Manifest:
    environment: str
    namespace: str = names.DEFAULT_NAMESPACE
    port: int = names.DEFAULT_PORT
    prune: bool = False
    kube_context: str | None = None
    models: tuple[ModelSpec, ...] = ()
    path: str = "<manifest>"

    def desired_entries(self) -> list[Entry]:
        """The registry entries this manifest asks for (kube health not yet applied)."""
        return [model.entry(self.environment) for model in self.models]


def build(data: dict[str, Any], path: str, location: Callable[[tuple], Location]) -> Manifest:
    """The ``Manifest`` of data that passed every rule; ``location`` places each model."""
    spec = data["spec"]
    environment = data["metadata"]["environment"]
    namespace = spec.get("namespace", names.DEFAULT_NAMESPACE)
    port = spec.get("port", names.DEFAULT_PORT)
    models = []
    for i, model in enumerate(spec["models"]):
        model_ns = model.get("namespace", namespace)
        endpoint = model.get("endpoint")
        line, column = location(("spec", "models", i))
        models.append(
            ModelSpec(
                name=model["name"],
                namespace=model_ns,
                endpoint=endpoint
                or names.convention_endpoint(model["name"], environment, model_ns, port),
                enabled=model.get("enabled", True),
                explicit_endpoint=endpoint is not None,
                line=line,
                column=column,
            )
        )
    return Manifest(
        environment=environment,
        namespace=namespace,
        port=port,
        prune=spec.get("prune", False),
        kube_context=spec.get("kube", {}).get("context"),
        models=tuple(models),
        path=path,
    )
