# syntax=docker/dockerfile:1
# Both images from one build: the workspace is compiled once (release profile: thin LTO,
# stripped) and each runtime stage copies one binary onto distroless `cc` (glibc, libgcc,
# CA certificates, no shell, no package manager), running as the distroless `nonroot` user
# (65532, the user the operator's feed pods and the chart's operator pod run as).
#
#   docker build --target feed-server -t ghcr.io/nuget-operator/nuget-feed-server:0.1.0 .
#   docker build --target operator -t ghcr.io/nuget-operator/nuget-operator:0.1.0 .
#
# The tags are the chart's appVersion (charts/nuget-operator/Chart.yaml), which is what the
# chart and the operator use by default. The builder is Debian 12 like the runtime, so the
# binaries need no newer glibc than the runtime has.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# The whole workspace (every member must be present for Cargo to load it); .dockerignore keeps
# build output, caches and the chart out of the context.
COPY . .
# The registry and the target folder are BuildKit caches, so a rebuild after a source change
# recompiles only the workspace's own crates.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p nuget-feed-server -p nuget-operator \
    && mkdir -p /out \
    && cp target/release/nuget-feed-server target/release/nuget-operator /out/

# The feed server: one per NuGetFeed replica, started by the operator's Deployment with its
# config in a ConfigMap (NUGET_FEED_CONFIG); listens on 5000.
FROM gcr.io/distroless/cc-debian12:nonroot AS feed-server
COPY --from=build /out/nuget-feed-server /usr/local/bin/nuget-feed-server
USER 65532:65532
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/nuget-feed-server"]

# The operator: `nuget-operator run` (the chart's Deployment), `crd`, `render -f`;
# /livez, /readyz and /metrics on 8080.
FROM gcr.io/distroless/cc-debian12:nonroot AS operator
COPY --from=build /out/nuget-operator /usr/local/bin/nuget-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/nuget-operator"]
CMD ["run"]
