#!/usr/bin/env bash
# Post-deployment registration (docs: registration-workflow.md, Method 1).
#
#   scripts/vllm/register-model.sh MODEL ENVIRONMENT [NAMESPACE]
#
# Verifies that the model's Deployment and Service are healthy in Kubernetes,
# then registers the model at its conventional endpoint. Fails (exit 1, nothing
# written) when the deployment is not healthy or no cluster is configured.
# A thin wrapper: every rule lives in the `registry` CLI (REGISTRY_CLI overrides
# which executable is used, e.g. "admin-cli registry").
set -euo pipefail

info() { echo "[INFO] $*"; }
error() { echo "[ERROR] $*" >&2; }

if [[ $# -lt 2 || $# -gt 3 ]]; then
    error "usage: $0 MODEL ENVIRONMENT [NAMESPACE]"
    exit 2
fi
model=$1
environment=$2
namespace=${3:-system}
read -r -a cli <<<"${REGISTRY_CLI:-registry}"

# Reads one field of the JSON document on stdin.
field() { python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print("" if v is None else v)' "$1"; }

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

set +e
health=$("${cli[@]}" health --model-name "$model" --environment "$environment" \
    --namespace "$namespace" --format json 2>"$errors")
status=$?
set -e

info "Registering model deployment..."
info "  Model: $model"
info "  Environment: $environment"
info "  Namespace: $namespace"
if [[ -z $health ]]; then
    # No JSON: the check itself failed (bad name, no cluster, cluster unreachable...).
    error "$(sed 's/^error: //' "$errors")"
    exit 1
fi
info "  Endpoint: $(field endpoint <<<"$health")"
info "Verifying deployment..."
replicas="$(field ready_replicas <<<"$health")/$(field replicas <<<"$health") replicas ready"
if [[ $status -ne 0 ]]; then
    error "✗ Deployment is not healthy: $(field health <<<"$health") ($replicas): $(field reason <<<"$health")"
    error "  Check it with: kubectl rollout status deployment/$(field deployment <<<"$health") -n $namespace"
    exit 1
fi
info "✓ Deployment is healthy ($replicas)"
info "Registering model in registry..."
# `register` checks the health again, so a rollout that broke in between is refused too.
if ! "${cli[@]}" register --model-name "$model" --environment "$environment" \
    --namespace "$namespace" --endpoint "$(field endpoint <<<"$health")" >/dev/null 2>"$errors"; then
    error "$(grep '^error: ' "$errors" | sed 's/^error: //' || cat "$errors")"
    exit 1
fi
info "✓ Model registered successfully"
