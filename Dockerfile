# wogate container image: the static gateway and the shipped plugins on an
# empty base. Build it with `make image` (buildah, or docker build with the
# same arguments).
#
# The binaries are not compiled in a golang builder stage: the machines
# that build wogate reach no container registry, only the Go module proxy,
# so there is no base image to pull. They come from the release archive
# `make dist` builds on the host (static, -trimpath, reproducible), which
# also makes the image's binaries byte for byte the ones in SHA256SUMS.
# The first stage unpacks that archive; the final one is FROM scratch: no
# shell, no package manager, nothing but what is copied below.
#
# Context (make image prepares it): dist/wogate-$VERSION-linux-$TARGETARCH.tar.gz,
# dist/ca-certificates.crt (the build host's CA bundle), contrib/container/.

FROM scratch AS release
ARG VERSION
ARG TARGETARCH
# ADD unpacks a local tar archive.
ADD dist/wogate-${VERSION}-linux-${TARGETARCH}.tar.gz /release/

FROM scratch
ARG VERSION
ARG TARGETARCH
COPY --from=release /release/wogate-${VERSION}-linux-${TARGETARCH}/bin/gateway /gateway
COPY --from=release /release/wogate-${VERSION}-linux-${TARGETARCH}/bin/csv-export /plugins/csv-export
COPY --from=release /release/wogate-${VERSION}-linux-${TARGETARCH}/bin/erp-rest /plugins/erp-rest
COPY --from=release /release/wogate-${VERSION}-linux-${TARGETARCH}/LICENSE /release/wogate-${VERSION}-linux-${TARGETARCH}/NOTICE /release/wogate-${VERSION}-linux-${TARGETARCH}/THIRD_PARTY_LICENSES /usr/share/doc/wogate/
COPY dist/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The image's only user besides root; the files are checked in because
# there is no shell here to run useradd.
COPY contrib/container/passwd contrib/container/group /etc/
COPY contrib/container/config.yaml /etc/wogate/config.yaml

USER 65532:65532
# Directories made after USER belong to that user (buildah and BuildKit;
# the image test checks it): /tmp for the plugins' gRPC sockets, /data for
# the store.
WORKDIR /tmp
WORKDIR /data
VOLUME /data
ENV TMPDIR=/tmp

# Public listener (webhooks, /healthz) and admin listener (UI, API, /metrics).
EXPOSE 8080 8081
# Needs the docker image format (buildah bud --format docker): OCI images
# have no health check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/gateway", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/gateway"]
CMD ["run", "--config", "/etc/wogate/config.yaml"]

LABEL org.opencontainers.image.title="wogate" \
      org.opencontainers.image.description="Work-order integration gateway for CorrigoPro service providers" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
