"""The deployment's 12-digit account id, for the server (app.py) and `strongroom kms` alike."""

from __future__ import annotations

import secrets

from strongroom.catalog import Catalog
from strongroom.config import env


def account_id(catalog: Catalog) -> str:
    """From STRONGROOM_ACCOUNT_ID, else generated once and kept in the catalog."""
    configured = env("account_id")
    if configured:
        if not (len(configured) == 12 and configured.isdigit()):
            raise SystemExit("strongroom: STRONGROOM_ACCOUNT_ID must be 12 digits")
        return configured
    return catalog.set_setting_if_absent("account_id", str(secrets.randbelow(9 * 10**11) + 10**11))
