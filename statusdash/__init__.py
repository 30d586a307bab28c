"""The statusdash project: settings, URLs, ASGI, Celery, `make run` (statusdash.run).

The Celery app is imported by settings, not here, so that `python -m statusdash.run`
(which imports this package first) stays a small process without Celery or Django.
"""
