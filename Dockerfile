# syntax=docker/dockerfile:1
# The stack as one static binary in a small image: the edge listens on
# every interface of the container (STACK_EDGE_LISTEN), the polls app runs
# with debug off, and its static files are collected into the image for the
# edge to serve.
#
#   docker build -t stack .
#   docker run --rm -p 8000:8000 -e STACK_APPS_POLLS_SECRET_KEY=$(openssl rand -hex 32) stack

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/stack-web/stack/cli.Version=${VERSION}" \
      -o /out/stack ./cmd/stack \
 && mkdir -p /out/app/static /out/app/run \
 && cd /out/app && STACK_APPS_POLLS_DEBUG=true /out/stack collectstatic /out/app/static -c /src/deploy/stack.docker.yaml \
 && cp /src/deploy/stack.docker.yaml /out/app/stack.yaml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stack /usr/local/bin/stack
COPY --from=build --chown=nonroot:nonroot /out/app /app
WORKDIR /app
USER nonroot
ENV STACK_EDGE_LISTEN=0.0.0.0:8000 \
    STACK_APPS_POLLS_DEBUG=false
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/stack"]
CMD ["up"]
