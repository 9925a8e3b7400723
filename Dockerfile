# codrive's container image: the static codrive binary on distroless, as a
# non-root user. No registry is needed to build it:
#
#   make image                                  # docker build -t codrive:dev .
#   make image IMAGE=registry.example/codrive:v0.3.0 && docker push registry.example/codrive:v0.3.0
#
# The build context is the repository root; .dockerignore keeps it to what
# `go build` needs. compose/docker-compose.yml and deploy/kubernetes use it.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: a static binary, for an image with no libc. -buildvcs=false: .git
# is not in the context. deploy/dockerfile_test.go runs this very line.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/codrive ./cmd/codrive

# distroless/static: no shell, no package manager, no libc; its nonroot
# user (65532), said as a number so that Kubernetes' runAsNonRoot can check it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/codrive /usr/local/bin/codrive
USER 65532:65532
# `codrive attach` serves its probes here (--http reads $CODRIVE_HTTP):
# loopback, so nothing is exposed unless a deployment says otherwise
# (deploy/kubernetes sets 0.0.0.0:8081 and a token).
ENV CODRIVE_HTTP=127.0.0.1:8081
# No shell and no curl in the image: codrive probes itself, at $CODRIVE_HTTP.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/codrive", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/codrive"]
CMD ["--help"]
