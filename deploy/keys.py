"""`counsel keys rotate`: after a new master key version is made current (listed first in COUNSEL_MASTER_KEY,
or named by `current` in COUNSEL_MASTER_KEY_DIR, the old version still listed), re-wrap every service's data
keys with it. The data they sealed is not touched; once this reports every service done, the old version may
be removed from the configuration (docs/privacy.md, "Rotating the master key")."""

from __future__ import annotations

import importlib

from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.db import Database
from services.runtime.keys import DataKeys, master_key


async def rotate(settings: Settings) -> int:
    """Re-wrap the data keys of every service that keeps them; prints one line per service. 0 when done."""
    master = master_key(settings)
    for service in SERVICE_NAMES:
        table = getattr(importlib.import_module(f"services.{service}.models"), "DATA_KEYS", None)
        if table is None:
            continue  # this service seals nothing yet
        db = Database(settings.database_dsn(service), pool_size=1)
        try:
            rewrapped = await DataKeys(db, master, table).rewrap()
        finally:
            await db.close()
        print(f"{service}: {rewrapped} data keys re-wrapped with master key version {master.current}")
    return 0
