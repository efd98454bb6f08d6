# One image for every process (web, worker, beat, migrate); the command picks the process.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    WEB_HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall them: exactly the
# runtime set of requirements/lock-deploy.txt, each file checked against its hash (scripts/lock).
COPY requirements/lock-deploy.txt requirements/
RUN pip install --require-hashes -r requirements/lock-deploy.txt

# The application (.dockerignore leaves out lab/, the measurement tooling, and local state),
# whose dependencies are all in already, and its static files (the admin's CSS, Swagger UI)
# collected for WhiteNoise to serve; collectstatic needs a key, not a secret.
COPY . .
RUN pip install --no-deps . \
    && DJANGO_ALLOW_DEV_SECRET=1 python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app app
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "gunicorn.conf.py"]
