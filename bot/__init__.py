"""Sidan's web layer and command line."""

import os

# prometheus-client in multiprocess mode writes a file in PROMETHEUS_MULTIPROC_DIR as soon as
# the first metric is defined. The env file names /run/sidan/metrics, which systemd makes only
# for sidan-web.service: make it when missing, so `sidan init-db` before the first start, or a
# scheduler started alone, does not die on import (found by tests/test_deploy.py).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
