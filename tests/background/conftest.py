"""Fixtures for the background tests: a migrated file database for subprocess workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.background.subproc import copy_db, migrate_template


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrate_template(tmp_path_factory.mktemp("template-db"))


@pytest.fixture
def file_db(_template_db: Path, tmp_path: Path) -> Path:
    """A fresh, migrated SQLite file for worker processes (not the test database)."""
    return copy_db(_template_db, tmp_path)
