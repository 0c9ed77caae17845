"""Where the console keeps its files: one folder, ``STORAGE_DIR``, that every machine of an install shares.

Under it: ``update_requests/`` (screenshots of customer-info update requests, webapp/uploads.py)
and ``daily_files/<folder>/`` (the daily data files a DMS drops, when a location's *Daily data file
folder* is a name rather than a full path). The default, ``<instance>/uploads``, is where screenshots
always were, so a single-machine install keeps its files; an install on several machines mounts
shared storage (NFS, SMB) on each and points ``STORAGE_DIR`` at it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from connectors.extract import resolve_drop_folder

#: The sub-folder of the storage that holds the locations' daily-file folders given by name.
DAILY_FILES = "daily_files"


def storage_dir(app: Flask | None = None) -> Path:
    """``STORAGE_DIR``, else ``<instance>/uploads``."""
    app = app or current_app
    configured = app.config.get("STORAGE_DIR")
    if configured:
        return Path(configured)
    return Path(app.config.get("INSTANCE_DIR") or app.instance_path) / "uploads"


def daily_files_dir(app: Flask | None = None) -> Path:
    """Where the daily-file folders given by name are: ``<storage>/daily_files``."""
    return storage_dir(app) / DAILY_FILES


def drop_folder(setting: str | None, app: Flask | None = None) -> Path | None:
    """A location's daily-file folder (``Location.dms_extract_dir``) as this machine sees it: a
    name under :func:`daily_files_dir`, a full path as it is; None when unset or not usable."""
    if not setting:
        return None
    return resolve_drop_folder(setting, daily_files_dir(app))
