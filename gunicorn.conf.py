"""Gunicorn settings for the console in production: ``gunicorn wsgi:app`` reads this file from the
working directory (``-c`` names another). Flags given on the command line win over these.

- ``WEB_CONCURRENCY`` worker processes (default 2) with ``THREADS`` threads each (default 4): a
  request is mostly the app's own Python (templates, the ORM), so the workers, not the threads, use
  the cores; threads cover the waits (the database, Redis, a DMS asked while someone waits).
- ``BIND`` (default ``127.0.0.1:$PORT``, ``PORT`` defaulting to 8000): behind a reverse proxy on the
  same machine; set ``PROXY_HOPS`` for the proxy's headers (see README, Settings).
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("THREADS", "4"))
worker_class = "gthread"
bind = [os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]
# A request that takes longer than this is a stuck worker (the slowest legitimate ones, a DMS asked
# while someone waits, stop at DMS_LOOKUP_TIMEOUT / DMS_TEST_TIMEOUT seconds).
timeout = 60
graceful_timeout = 10
keepalive = 5
