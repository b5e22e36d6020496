# One image for every process of the system: web, workers, scheduler (see docker-compose.yml).
# The dashboard's chart library, installed from the npm registry as ops/vendor/package-lock.json pins it
# (npm ci checks each package's integrity); ops/vendor/install.py copies it into the static files.
FROM node:20-slim AS vendor
WORKDIR /vendor
COPY ops/vendor/package.json ops/vendor/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim

# Production settings by default (DEBUG off: no debug pages); set DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS.
# Processes import the packages from /app (the working directory comes first on sys.path), not from
# site-packages, and can write nothing there: their bytecode is compiled once below, at build time, or
# every worker, web and scheduler process would compile ~1.3 MB of code objects' worth of source at boot.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 THREADS_VAR_DIR=/var/lib/threads DJANGO_DEBUG=0
WORKDIR /app

COPY pyproject.toml README.md ./
COPY runtime ./runtime
COPY compat ./compat
COPY ops ./ops
COPY actors ./actors
COPY threads ./threads
COPY scheduler ./scheduler
COPY manage.py ./
COPY --from=vendor /vendor/node_modules ./ops/vendor/node_modules
RUN python ops/vendor/install.py --copy-only \
    && pip install --no-cache-dir ./runtime . gunicorn \
    && useradd --system --home /app threads \
    && mkdir -p /var/lib/threads \
    && python manage.py collectstatic --noinput \
    && python -m compileall -q compat ops actors threads scheduler \
    && chown -R threads /var/lib/threads
USER threads

EXPOSE 8000
CMD ["gunicorn", "threads.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
