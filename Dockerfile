# convsync for production: one image, every role chosen by the command (serve, consume, reconcile, ...).
#
# The image holds the wheel and nothing of the source tree. tests/artifact/ runs the two `pip` lines
# below (marked `artifact:`) exactly as written, with /src and /dist pointing at folders of its own,
# and smoke-tests what they install; tests/artifact/test_dockerfile.py checks this file's shape.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
# artifact: build
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist /src

FROM python:3.11-slim
COPY --from=build /dist /dist
# The wheel brings the embedded PostgreSQL and broker as dependencies, so `docker run IMAGE dev` works.
# artifact: install
RUN python -m pip install --no-cache-dir "$(ls /dist/convsync-*.whl)" && rm -rf /dist
# the spool's volume (docker-compose.yml) is created from this folder, so it belongs to the user too
RUN useradd --create-home --uid 10001 convsync && install -d -o convsync -g convsync /var/lib/convsync
USER convsync
WORKDIR /home/convsync
ENTRYPOINT ["convsync"]
CMD ["--help"]
