# convsync for production: one image, every role chosen by the command (serve, consume, reconcile, ...).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY convsync ./convsync
COPY ingest ./ingest
COPY consumers ./consumers
COPY reconciler ./reconciler
COPY emulator ./emulator
COPY migrations ./migrations
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["convsync"]
