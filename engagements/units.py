"""File sizes in messages: one unit everywhere.

Upload limits are set in MB of 1,048,576 bytes (``MAX_UPLOAD_MB``, ``MAX_XLSX_UNCOMPRESSED_MB``
in ``config/settings.py``). Every page and every error shows sizes through :func:`megabytes`, so
a page's "up to 50 MB" and an error's "over the 50 MB limit" are the same number.
"""

from __future__ import annotations

MB = 1024 * 1024


def megabytes(n_bytes: float) -> str:
    """``n_bytes`` in MB: whole numbers without a decimal ("50", "2,861"), others with one
    ("1.3")."""
    value = n_bytes / MB
    return f"{value:,.0f}" if round(value, 1) == round(value) else f"{value:,.1f}"
