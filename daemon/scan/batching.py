"""Several small files per worker task.

A task of the process pool costs the daemon ~0.3 ms of CPU (pickling, the
executor's manager thread, waking the worker) however small the file, and an
agent's files are mostly small. Under load the dispatcher therefore hands a
worker every file that is due, up to ``BATCH_FILES`` files or ``BATCH_BYTES``
bytes, in one task; when the workers keep up, a task holds the one file that
just became due, so batching never makes a file wait for others to arrive.

The task is ``daemon.scan.workers.submit_scan_batch``: ``Scanner.scan_many``
runs NER once over the text of all the task's small files (shared spaCy
batches) and gives each file the observation ``scan`` would; a file whose
scan raises is recorded unscannable and the others go on.
"""

from __future__ import annotations

BATCH_FILES = 16
BATCH_BYTES = 256 * 1024
