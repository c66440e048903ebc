# A static binary on a distroless, non-root base. Build it with `make docker`,
# which passes the same version stamp as `make build` (and `make release`):
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=main --build-arg CREATED=$(date -u +%FT%TZ) -t openstack-capacity-exporter .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_USER=docker
ARG BUILD_DATE
# .git is not in the build context (.dockerignore): the stamp comes from the
# arguments; without BUILD_DATE the Makefile takes the time of the build.
RUN make build VERSION="${VERSION}" REVISION="${REVISION}" BRANCH="${BRANCH}" \
      BUILD_USER="${BUILD_USER}" ${BUILD_DATE:+BUILD_DATE="${BUILD_DATE}"}

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED
LABEL org.opencontainers.image.title="openstack-capacity-exporter" \
      org.opencontainers.image.description="Prometheus exporter of the capacity OpenStack's schedulers see: Placement resource providers, Manila and Cinder pools" \
      org.opencontainers.image.source="https://github.com/openstack-capacity-exporter/openstack-capacity-exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /src/openstack-capacity-exporter /usr/bin/openstack-capacity-exporter
COPY LICENSE /LICENSE
# Numeric (distroless' nonroot is 65532): Kubernetes' runAsNonRoot can only
# verify a numeric user.
USER 65532:65532
EXPOSE 9863
# clouds.yaml is looked for in the working directory, ~/.config/openstack
# and /etc/openstack, or where OS_CLIENT_CONFIG_FILE says. Mounted read-only
# and owned by another uid, it must still be readable by uid 65532: mode
# 0644 or 0444, or 0640/0440 with a group the container runs with
# (docker run --group-add GID, Kubernetes fsGroup; a Secret's defaultMode
# is 0644). Never make it writable by others.
WORKDIR /home/nonroot
# Exec form: distroless has no shell. The probe runs without the
# container's arguments and asks http://127.0.0.1:9863/-/healthy: with
# another --web.listen-address, or TLS by --web.config.file, give the probe
# the same flag in an exec-form override (compose's healthcheck.test).
# Kubernetes ignores HEALTHCHECK: give it an httpGet probe of /-/healthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/bin/openstack-capacity-exporter", "--healthcheck"]
ENTRYPOINT ["/usr/bin/openstack-capacity-exporter"]
