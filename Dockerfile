# One image for the web server, the Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app nordpass

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Hashed, compressed static files served by whitenoise; DEBUG only so collectstatic needs no secret.
RUN DEBUG=true STATIC_MANIFEST=true STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R nordpass /app/var

ENV STATIC_ROOT=/app/staticfiles
USER nordpass
EXPOSE 8000
CMD ["gunicorn", "nordpass_admin.wsgi:application", "--config", "python:nordpass_admin.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--access-logfile", "-"]
