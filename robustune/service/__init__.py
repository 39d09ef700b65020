"""Floor 4b: the HTTP service. FastAPI routers and schemas over the jobs; state in SQLAlchemy.

``robustune serve`` starts the API (uvicorn) and N worker processes; workers claim queued jobs
from the database and run each in its own process group (``runner.py``). The database is the
record of every job; artifacts live under ``HOME/artifacts`` in folders named by server-made ids.
"""
