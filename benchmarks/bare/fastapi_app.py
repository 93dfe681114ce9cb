"""The FastAPI ceiling: one JSON endpoint, no middleware, no database.

Served like the service (uvicorn with uvloop and httptools, no access log):
`fastapi_svc/.venv/bin/python -m uvicorn fastapi_app:app --app-dir benchmarks/bare`.
"""

from fastapi import FastAPI

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
