# The Stripe stand-in of `docker compose --profile demo up`, at the version the tests
# use (requirements/localstripe.txt). Only that service builds this stage.
FROM python:3.11-slim AS localstripe
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/localstripe.txt /tmp/localstripe.txt
RUN pip install --no-deps --require-hashes -r /tmp/localstripe.txt \
    && useradd --system localstripe
USER localstripe
EXPOSE 8420
CMD ["python", "-m", "localstripe", "--port", "8420"]

# One image for api, worker and beat (docker-compose.yml picks the command); the
# last stage, so `docker build .` builds it.
#
# It installs requirements/prod.txt (`make lock`: pinned, with hashes; no embedded
# servers, no dev tools), then the project itself, not editable and resolving
# nothing. tests/test_image_install.py replays this stage's COPY, WORKDIR and
# `RUN pip install` lines into a fresh virtualenv and starts the API from it, so
# keep each install step a `RUN pip install ...` of its own.
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Pango and fonts beyond Latin-1 for the PDF documents (scripts/install-document-stack).
COPY scripts/install-document-stack /usr/local/bin/install-document-stack
RUN install-document-stack && rm -rf /var/lib/apt/lists/*
# The dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements/prod.txt requirements/prod.txt
RUN pip install --no-deps --require-hashes -r requirements/prod.txt
COPY pyproject.toml README.md ./
COPY config ./config
COPY streamsvc ./streamsvc
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-deps .
RUN useradd --system --home-dir /app --create-home streamsvc \
    && mkdir -p /data && chown streamsvc /data
# Run from outside the sources, so that only the installed package is imported.
WORKDIR /app
USER streamsvc
ENV STREAMSVC_DATA_DIR=/data
EXPOSE 8000
CMD ["streamsvc", "api", "--host", "0.0.0.0", "--port", "8000"]
