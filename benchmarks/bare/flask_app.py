"""The Flask ceiling: one JSON view, no extensions, no database.

Served like the service, with its gunicorn.conf.py (run from flask_svc/):
`.venv/bin/gunicorn --pythonpath ../benchmarks/bare flask_app:app`.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
