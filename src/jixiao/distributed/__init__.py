"""Distributed extraction: Celery workers on one Redis broker, results in the project's database.

`jixiao batch PATH… --queue` enqueues one task per document (its bytes travel by content: a
shared path, or the bytes themselves up to a size limit); `jixiao worker` runs a Celery worker
that processes them with the same per-document code as the local batch and stores each
document in one transaction, deduplicated, so a redelivered task never writes twice. Progress
and task state (waiting / running / done / failed, tries) live in the database, not in Celery.

Needs the `distributed` extra (celery[redis]); nothing here is imported by the local batch.
"""
