"""The Celery app the test workers run (`celery -A worker_app worker`): the project's own app,
with the layout extractor replaced by one that behaves exactly like it unless the test left a
control file for the document in JIXIAO_TEST_CONTROL:

- `slow/<sha256>`: note `started/<sha256>.<pid>`, then sleep (seconds in the file) before each
  form, so the test can kill the worker mid-document;
- `poison/<sha256>`: the worker process kills itself (SIGKILL), as a crash in a PDF library does.

Nothing of this is in the package: the workers get it only through this module.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from jixiao.distributed.app import app
from jixiao.extract.base import ExtractorOptions, ExtractorOutput, register_extractor
from jixiao.extract.layout import LayoutExtractor
from jixiao.ingest.model import FormRegion, LayoutText

__all__ = ["app"]


class ControlledLayout(LayoutExtractor):
    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        control = Path(os.environ["JIXIAO_TEST_CONTROL"])
        if (control / "poison" / doc_sha256).exists():
            os.kill(os.getpid(), signal.SIGKILL)
        slow = control / "slow" / doc_sha256
        if slow.exists():
            started = control / "started"
            started.mkdir(exist_ok=True)
            (started / f"{doc_sha256}.{os.getpid()}").touch()
            time.sleep(float(slow.read_text() or "1"))
        return super().extract(form, layout, doc_sha256=doc_sha256)


def _open(options: ExtractorOptions) -> ControlledLayout:
    return ControlledLayout()


register_extractor("layout", _open)
