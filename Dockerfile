# edgehook in a scratch image: the static musl binary and nothing else.
#   make static && docker build -t edgehook .
#   docker run -p 8080:8080 -v $PWD/config.yaml:/config.yaml edgehook -c /config.yaml -l 0.0.0.0:8080
FROM scratch
COPY build/static/edgehook.bin /edgehook
# https endpoints need trust anchors: put a bundle in the build context and
# uncomment (or point webhook.ca_file at a mounted file).
# COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
USER 65534:65534
EXPOSE 8080
# No curl in a scratch image: the binary checks itself (GET /healthz on
# 127.0.0.1:8080, the default below; with -c FILE add "-c", "FILE").
HEALTHCHECK --interval=30s --timeout=5s CMD ["/edgehook", "--healthcheck"]
ENTRYPOINT ["/edgehook"]
CMD ["-l", "0.0.0.0:8080"]
