"""`python -m jixiao.distributed worker|enqueue|status ARGS…`: the distributed commands of the
one `jixiao` CLI, for images and scripts that call a module (compose.yaml, the benchmark):
`worker` is `jixiao worker`, `enqueue` is `jixiao batch --queue`, `status` is `jixiao batch
status`."""

from __future__ import annotations

import sys

from jixiao.cli import main

_AS = {"worker": ["worker"], "enqueue": ["batch", "--queue"], "status": ["batch", "status"]}

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] not in _AS:
        sys.stderr.write("usage: python -m jixiao.distributed worker|enqueue|status [ARGS]…\n")
        sys.exit(2)
    main(_AS[args[0]] + args[1:])
