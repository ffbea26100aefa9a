#!/usr/bin/env bash
# The README's kind quick start, end to end, for machines with a Docker engine (CI systems;
# the project's own machines have none, so there the same path is covered by
# tests/tests/chart_cluster.rs and tests/tests/e2e.rs without containers):
#
#   1. a kind cluster with ports 80/443 mapped to ingress-nginx;
#   2. both images built from the Dockerfile and loaded into kind;
#   3. `helm install` of charts/nuget-operator with the platform host `localhost`;
#   4. `kubectl apply -f examples/pvc/`, then wait for the feed to be Ready;
#   5. `dotnet pack`, `dotnet nuget push` and `dotnet restore` through the ingress.
#
# Needs docker, kind, kubectl, helm and the dotnet SDK on PATH, and ports 80 and 443 free.
# Environment: KIND_CLUSTER (default nuget), KEEP_CLUSTER=1 keeps the cluster afterwards,
# INGRESS_NGINX_MANIFEST overrides the ingress-nginx manifest for kind.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLUSTER="${KIND_CLUSTER:-nuget}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
INGRESS_NGINX_MANIFEST="${INGRESS_NGINX_MANIFEST:-https://kind.sigs.k8s.io/examples/ingress/deploy-ingress-nginx.yaml}"
# The chart's appVersion: the tag the chart and the operator use by default.
VERSION="$(awk -F'"' '/^appVersion:/ {print $2}' charts/nuget-operator/Chart.yaml)"
OPERATOR_IMAGE="ghcr.io/nuget-operator/nuget-operator:$VERSION"
FEED_IMAGE="ghcr.io/nuget-operator/nuget-feed-server:$VERSION"

step() { printf '==> %s\n' "$*"; }
for tool in docker kind kubectl helm dotnet; do
  command -v "$tool" >/dev/null 2>&1 || { echo "kind quick start: $tool is required on PATH" >&2; exit 1; }
done

step "kind cluster $CLUSTER"
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --config=- <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    kubeadmConfigPatches:
      - |
        kind: InitConfiguration
        nodeRegistration:
          kubeletExtraArgs:
            node-labels: "ingress-ready=true"
    extraPortMappings:
      - {containerPort: 80, hostPort: 80, protocol: TCP}
      - {containerPort: 443, hostPort: 443, protocol: TCP}
EOF
fi
if [ "$KEEP_CLUSTER" != 1 ]; then
  trap 'kind delete cluster --name "$CLUSTER"' EXIT
fi
kubectl config use-context "kind-$CLUSTER"

step "ingress-nginx"
kubectl apply -f "$INGRESS_NGINX_MANIFEST"
kubectl -n ingress-nginx rollout status deployment/ingress-nginx-controller --timeout=300s

step "images $OPERATOR_IMAGE and $FEED_IMAGE"
docker build --target operator -t "$OPERATOR_IMAGE" .
docker build --target feed-server -t "$FEED_IMAGE" .
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'nuget-(operator|feed-server)'
kind load docker-image --name "$CLUSTER" "$OPERATOR_IMAGE" "$FEED_IMAGE"

step "helm install"
helm upgrade --install nuget-operator charts/nuget-operator \
  --namespace nuget-system --create-namespace \
  --set platform.host=localhost --set platform.ingressClassName=nginx \
  --wait --timeout 5m

step "a feed: examples/pvc"
kubectl create namespace team-a --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f examples/pvc/
kubectl -n team-a wait nugetfeed/main --for=condition=Ready --timeout=300s
kubectl -n team-a get nugetfeed main
URL="$(kubectl -n team-a get nugetfeed main -o jsonpath='{.status.url}')"
KEY="$(kubectl -n team-a get secret main-api-keys -o jsonpath='{.data.default}' | base64 -d)"
[ "$URL" = "http://localhost/team-a/main/index.json" ] || { echo "unexpected feed URL $URL" >&2; exit 1; }

step "dotnet pack, push and restore through the ingress"
work="$(mktemp -d)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 NUGET_PACKAGES="$work/packages"
# The feed is plain HTTP on localhost: allowed explicitly, and the only source.
cat >"$work/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="kind" value="$URL" allowInsecureConnections="true" />
  </packageSources>
</configuration>
EOF
dotnet new classlib --output "$work/Hello" --name KindQuickStart.Hello
dotnet pack "$work/Hello" --configuration Release --output "$work/out" -p:Version=1.0.0
(cd "$work" && dotnet nuget push "out/KindQuickStart.Hello.1.0.0.nupkg" --source kind --api-key "$KEY")
dotnet new console --output "$work/App" --name KindQuickStart.App
(cd "$work" && dotnet add App package KindQuickStart.Hello --version 1.0.0 --source "$URL")
(cd "$work" && dotnet restore App)
test -f "$NUGET_PACKAGES/kindquickstart.hello/1.0.0/kindquickstart.hello.1.0.0.nupkg"
step "pushed to and restored from $URL"
