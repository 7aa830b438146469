FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY emulator ./emulator
RUN pip install --no-cache-dir .

ENV AGENTPHONE_EMULATOR_HOST=0.0.0.0 \
    AGENTPHONE_EMULATOR_PORT=8000 \
    AGENTPHONE_EMULATOR_DB=/data/agentphone-emulator.db
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/_emulator/health').status == 200 else 1)"

CMD ["agentphone-emulator", "serve"]
