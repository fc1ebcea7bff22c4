# syntax=docker/dockerfile:1
# Build: docker build -t forgelink .
# Run:   docker run -d -p 7788:7788 -v forgelink-data:/var/lib/forgelink \
#          -e FORGELINK_ROOT_ACCESS_KEY_ID=... -e FORGELINK_ROOT_SECRET_ACCESS_KEY=... forgelink
# cmd/forgelink/dockerfile_test.go checks this file's layout.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same command README gives for building outside Docker; CGO is off
# because the embedded store (modernc.org/sqlite) is pure Go.
RUN CGO_ENABLED=0 go build -trimpath -o forgelink ./cmd/forgelink
# The data directory is made here, where there is a shell, and copied as
# the parent's child so that its mode (0700, as the daemon makes it) and
# owner survive: a fresh named volume copies both from the image, and the
# daemon then creates its master key and database as the image's user.
RUN mkdir -p -m 0700 /out/var/lib/forgelink

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/forgelink /usr/local/bin/forgelink
COPY --from=build --chown=65532:65532 /out/var/lib/ /var/lib/
# Listen on all interfaces inside the container; root credentials are then
# required (forgelink refuses a non-loopback address without them).
ENV FORGELINK_LISTEN=0.0.0.0:7788 \
    FORGELINK_DATA_DIR=/var/lib/forgelink
VOLUME ["/var/lib/forgelink"]
EXPOSE 7788
# Numeric, so that runAsNonRoot-style checks can verify it without a passwd.
USER 65532:65532
# Distroless has no curl: the binary checks its own /readyz (within 5 s,
# its default, so that its one-line reason lands in the health log before
# the engine's timeout cuts it off).
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/forgelink", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/forgelink"]
CMD ["serve"]
