# Slim production image: gunicorn serving the Django app as a non-root user.
# The same image runs the web process, Celery workers and beat (see docker-compose.yml).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=slo_engine.settings

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs a key only to import settings; the real one comes from the environment at run time.
RUN DEBUG=false SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput \
    && groupadd --system app && useradd --system --gid app --home /app app \
    && chown -R app:app /app

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status == 200 else 1)"
CMD ["gunicorn", "slo_engine.wsgi:application", "--config", "gunicorn.conf.py"]
