# The Casting service: `casting serve` by default, `casting migrate` for the migration Job
# (deploy/README.md). Two stages, so that pip's work stays out of the image that runs.

FROM python:3.11-slim-bookworm AS build

# Every dependency ships a wheel for Linux on Python 3.11: no compiler is installed, here or below.
RUN python -m venv /opt/venv
WORKDIR /app
COPY pyproject.toml alembic.ini ./
COPY migrations ./migrations
COPY src ./src
# Editable, so that the package stays under /app beside alembic.ini and migrations/, where
# `casting migrate` looks for them (src/casting/adapters/sql/migrate.py). Compiled here, because
# the user that runs the service cannot write /app.
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --editable . \
    && /opt/venv/bin/python -m compileall -q /app/src /app/migrations


FROM python:3.11-slim-bookworm

# A fixed numeric id, so that Kubernetes' runAsNonRoot can check it; its home is the working
# directory, where the embedded defaults (SQLite and blobs under ./var) can write.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/casting casting
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

# One service per container, so the metrics port is on (off by default, for one host).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CASTING_METRICS_PORT=9464

USER 10001:10001
WORKDIR /var/lib/casting
# gRPC (health and reflection included), the console, Prometheus metrics.
EXPOSE 50051 8080 9464
ENTRYPOINT ["casting"]
CMD ["serve"]
