# The stack as one static binary in a small image: the edge listens on
# every interface of the container (STACK_EDGE_LISTEN), the polls app runs
# with debug off, and its static files are collected into the image for the
# edge to serve.
#
#   docker build -t stack .
#   docker run --rm -p 8000:8000 -e STACK_APPS_POLLS_SECRET_KEY=$(openssl rand -hex 32) stack
#
# The base images are build arguments, so a machine that reaches no
# registry can build this same file from images it makes itself (the test
# e2e/docker_test.go does: a runtime of `scratch`, a builder with a shell
# only, and PREBUILT):
#
#   BUILDER_IMAGE  any image with a POSIX shell and, unless PREBUILT is
#                  set, Go 1.26 (default golang:1.26-bookworm)
#   RUNTIME_IMAGE  the final base (default distroless static, nonroot);
#                  `scratch` works too: the binary is static, and the user
#                  is the numeric 65532 with its /etc/passwd line copied in
#   PREBUILT       a path in the context to a binary already built with the
#                  flags of the `go build` below (CGO_ENABLED=0, -trimpath,
#                  -ldflags "-s -w ...", -tags $GOTAGS): the build stage
#                  then copies it instead of compiling; every other line
#                  runs as usual.
#   GOTAGS         build tags, default nopostgres: polls on SQLite, an
#                  image under 22 MB; --build-arg GOTAGS= adds the
#                  PostgreSQL driver (pgx, about 4 MB more) for app servers
#                  on several hosts sharing one database.
ARG BUILDER_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${BUILDER_IMAGE} AS build
ARG PREBUILT=
WORKDIR /src
COPY go.mod go.sum ./
RUN [ -n "$PREBUILT" ] || go mod download
COPY . .
ARG VERSION=dev
ARG GOTAGS=nopostgres
RUN if [ -n "$PREBUILT" ]; then \
      mkdir -p /out && cp "$PREBUILT" /out/stack && chmod 0755 /out/stack; \
    else \
      CGO_ENABLED=0 go build -trimpath -tags "$GOTAGS" \
        -ldflags "-s -w -X github.com/stack-web/stack/cli.Version=${VERSION}" \
        -o /out/stack ./cmd/stack; \
    fi \
 && mkdir -p /out/app/static /out/app/run /out/etc \
 && cd /out/app && STACK_APPS_POLLS_DEBUG=true /out/stack collectstatic /out/app/static -c /src/deploy/stack.docker.yaml \
 && cp /src/deploy/stack.docker.yaml /out/app/stack.yaml \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > /out/etc/group

FROM ${RUNTIME_IMAGE}
# The same users as distroless's /etc/passwd, so `scratch` has them too.
COPY --from=build /out/etc/passwd /out/etc/group /etc/
COPY --from=build /out/stack /usr/local/bin/stack
COPY --from=build --chown=65532:65532 /out/app /app
WORKDIR /app
# Numeric, so that the runtime needs no /etc/passwd to resolve it.
USER 65532:65532
ENV STACK_EDGE_LISTEN=0.0.0.0:8000 \
    STACK_APPS_POLLS_DEBUG=false
EXPOSE 8000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/stack"]
CMD ["up"]
