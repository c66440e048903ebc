# Multi-stage build: a static binary on a distroless, non-root base.
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#                --build-arg REVISION=$(git rev-parse HEAD) -t openstack-capacity-exporter .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=main \
        -X github.com/prometheus/common/version.BuildUser=docker" \
      -o /out/openstack-capacity-exporter ./cmd/openstack-capacity-exporter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/openstack-capacity-exporter /usr/bin/openstack-capacity-exporter
USER nonroot:nonroot
EXPOSE 9863
# clouds.yaml is looked for in the working directory, ~/.config/openstack and
# /etc/openstack; mount it at /etc/openstack/clouds.yaml or set
# OS_CLIENT_CONFIG_FILE.
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/bin/openstack-capacity-exporter"]
