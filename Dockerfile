# portreg's registry server: FastAPI + Uvicorn on 54000 (health: GET /api/v1/health).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir '.[server]'
ENV PORTREG_LOG_LEVEL=info
EXPOSE 54000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:54000/api/v1/health', timeout=2)"
CMD ["portreg", "serve", "--host", "0.0.0.0", "--port", "54000", "--workers", "4"]
