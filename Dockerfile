# One image for every process (web, worker, beat, migrate); the command picks the process.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    WEB_HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall them. The same
# two steps as scripts/bootstrap: the pinned dependencies of pyproject.toml, then the packages
# of requirements/no-deps.txt without theirs (see that file).
COPY pyproject.toml ./
COPY requirements/ requirements/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && pip install --no-deps -r requirements/no-deps.txt

# The application; .dockerignore leaves out lab/ (the measurement tooling) and local state.
COPY . .
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /app app
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "gunicorn.conf.py"]
