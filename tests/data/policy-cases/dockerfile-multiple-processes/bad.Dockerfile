FROM alpine:3.20
USER 10001
CMD ["/usr/bin/supervisord", "-c", "/etc/supervisord.conf"]
