# One image for api, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY config ./config
COPY streamsvc ./streamsvc
COPY workers ./workers
COPY migrations ./migrations
RUN pip install -e . && useradd --system --home-dir /app streamsvc \
    && mkdir -p /data && chown streamsvc /data
USER streamsvc
ENV STREAMSVC_DATA_DIR=/data
EXPOSE 8000
CMD ["streamsvc", "api", "--host", "0.0.0.0", "--port", "8000"]
