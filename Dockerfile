# One static-ish binary with SQLite (cgo) on a slim Debian.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/sluice ./cmd/sluice

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /data sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
USER sluice
WORKDIR /data
ENTRYPOINT ["sluice"]
CMD ["serve", "--config", "/config/sluice.yaml", "--addr", "0.0.0.0:8080"]
EXPOSE 8080
