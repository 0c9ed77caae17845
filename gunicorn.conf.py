"""Gunicorn settings for the console in production: ``gunicorn wsgi:app`` reads this file from the
working directory (``-c`` names another). Flags given on the command line win over these.

- ``WEB_CONCURRENCY`` worker processes (default 2) with ``THREADS`` threads each (default 8). A
  request is mostly the app's own Python (templates, the ORM), so the processes, not the threads,
  use the cores: about one process per core the web may use. The threads cover the waits (the
  database, Redis, a DMS asked while someone waits), so a quick request (a live search) is not
  queued behind slow ones. With the 50 simulated staff of tests/bench/load.py on a 2-core machine,
  2 x 8 answered live searches and pages faster than 2 x 4 and than 4 x 4.
- Each process keeps a database connection per thread (``DB_POOL_SIZE`` defaults to ``THREADS``,
  webapp/config.py): PostgreSQL needs ``WEB_CONCURRENCY x (DB_POOL_SIZE + DB_MAX_OVERFLOW)``
  connections for the web, plus one per RQ worker and scheduler.
- ``BIND`` (default ``127.0.0.1:$PORT``, ``PORT`` defaulting to 8000): behind a reverse proxy on the
  same machine; set ``PROXY_HOPS`` for the proxy's headers (see README, Settings).
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("THREADS", "8"))
# The app reads THREADS when it builds its connection pool (in each worker, after this file ran).
os.environ.setdefault("THREADS", str(threads))
worker_class = "gthread"
bind = [os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]
# A worker that has not reported to the master for this long is restarted (gthread workers report
# from their main loop, whatever their requests are doing: a slow request does not trip it).
timeout = 60
graceful_timeout = 10
# Seconds an idle keep-alive connection is kept. Longer than the proxy's own idle timeout (nginx
# keeps idle upstream connections 60 s): a server that closes first races the client's next request
# on that connection, and a POST lost that way fails (the load benchmark saw one, after a person
# spent 5-15 s filling in a form with gunicorn's default of 5 s). gthread workers keep idle
# connections in their poller, not in a thread.
keepalive = int(os.environ.get("KEEPALIVE", "75"))
