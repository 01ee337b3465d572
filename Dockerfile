# peacewatch as a container image: one image, every stage; the command picks the stage
# (`run` for all of them in one process, or `collect`, `process`, `alert`).
#   docker build -t peacewatch .
#   docker run --rm peacewatch check
# Settings come from PEACEWATCH_* environment variables (see docker-compose.yml) or a file
# mounted at the path in PEACEWATCH_CONFIG.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid, so a host directory mounted as the data volume can be chowned to match.
RUN groupadd --system --gid 10001 peacewatch \
    && useradd --system --uid 10001 --gid peacewatch --no-create-home \
       --home-dir /var/lib/peacewatch --shell /usr/sbin/nologin peacewatch

WORKDIR /src
# Metadata first, then the packages listed in pyproject.toml's packages.find.
COPY pyproject.toml README.md ./
COPY peacewatch ./peacewatch
COPY collectors ./collectors
COPY processors ./processors
COPY alerts ./alerts
COPY desk ./desk
RUN pip install . && rm -rf /src

# The default feed list and watchlist. An installed package cannot find the repository's
# seeds/ by itself, so the settings point at this copy.
COPY seeds /usr/share/peacewatch/seeds
RUN mkdir -p /usr/share/peacewatch/documents /var/lib/peacewatch \
    && chown peacewatch:peacewatch /var/lib/peacewatch

# data_dir holds the embedded bus and every stage's state: mount a volume there.
# documents/ is the folder of baseline documents (mount the seed documents there); empty, the
# collectors start from the feeds alone.
ENV PEACEWATCH_DATA_DIR=/var/lib/peacewatch \
    PEACEWATCH_SEEDS_DIR=/usr/share/peacewatch/seeds \
    PEACEWATCH_COLLECTORS__DOCUMENTS='["/usr/share/peacewatch/documents"]' \
    PEACEWATCH_COLLECTORS__BASELINE_DOCUMENTS='["/usr/share/peacewatch/documents"]' \
    PEACEWATCH_METRICS__HOST=0.0.0.0 \
    PEACEWATCH_METRICS__PORT=9464 \
    PEACEWATCH_LOGGING__JSON_FORMAT=true

USER peacewatch:peacewatch
WORKDIR /var/lib/peacewatch
VOLUME ["/var/lib/peacewatch"]
EXPOSE 9464 8787

# /healthz answers while the process is alive (the daemon serves it on the metrics port).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]

# SIGTERM stops the daemon gracefully (finish in-flight work, flush, commit) within
# daemon.grace_period_s; give `docker stop -t` a little more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["peacewatch"]
CMD ["run"]
