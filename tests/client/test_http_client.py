"""The HTTP client's trust: one verifying context per CA bundle and process, rebuilt when the
bundle is rewritten."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

import pytest

from test_framework.client.http_client import tls_context

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def test_the_system_store_context_is_built_once_and_verifies() -> None:
    context = tls_context(None)
    assert context is tls_context(None)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


@pytest.mark.skipif(not SYSTEM_BUNDLE.is_file(), reason=f"no CA bundle at {SYSTEM_BUNDLE}")
def test_a_bundles_context_is_reused_until_the_bundle_is_rewritten(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    shutil.copyfile(SYSTEM_BUNDLE, bundle)
    first = tls_context(bundle)
    assert tls_context(bundle) is first
    assert first.cert_store_stats()["x509_ca"] > 0  # it trusts what the bundle holds

    stat = bundle.stat()
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert tls_context(bundle) is not first


def test_a_missing_bundle_is_an_error_not_the_system_store(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        tls_context(tmp_path / "absent.pem")
