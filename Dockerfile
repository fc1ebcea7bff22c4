# syntax=docker/dockerfile:1
# Build: docker build -t forgelink .
# The build command below is the same one README gives for building outside
# Docker; CGO is off because the embedded store (modernc.org/sqlite) is pure Go.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/forgelink ./cmd/forgelink

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/forgelink /usr/local/bin/forgelink
# Listen on all interfaces inside the container; root credentials are then
# required (forgelink refuses a non-loopback address without them).
ENV FORGELINK_LISTEN=0.0.0.0:7788 \
    FORGELINK_DATA_DIR=/var/lib/forgelink
VOLUME ["/var/lib/forgelink"]
EXPOSE 7788
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/forgelink"]
CMD ["serve"]
