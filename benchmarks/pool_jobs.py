"""Plain job functions for bench_pool.py (django-jobqueue and RQ import them by path).

Dramatiq's actors live in ``pool_dramatiq.py`` and Celery's tasks in ``pool_celery.py``, so
that no worker imports a peer library it does not use.
"""

import time

IO_SLEEP_S = 0.02


def noop():
    return None


def io_sleep():
    time.sleep(IO_SLEEP_S)
