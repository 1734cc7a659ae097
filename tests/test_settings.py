"""The process-wide settings follow the environment a test or command sets, even while
another thread (the service's notification sender) is reading them."""

from __future__ import annotations

import threading

from geo.core import settings as settings_module
from geo.core.settings import get_settings


def test_settings_a_thread_read_before_a_clear_are_not_kept(monkeypatch):
    """A thread begins reading the settings of database A; meanwhile the environment names
    database B and the cache is cleared. The thread gets A, but everyone after gets B."""
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", "postgresql://a/a")
    get_settings.cache_clear()
    read_env, resume = threading.Event(), threading.Event()
    real = settings_module.Settings

    class SlowRead(real):
        def __init__(self, **values):
            super().__init__(**values)
            if threading.current_thread().name == "reader":
                read_env.set()  # the environment is read; now wait, as a preempted thread would
                resume.wait(10)

    monkeypatch.setattr(settings_module, "Settings", SlowRead)
    seen = {}
    reader = threading.Thread(
        target=lambda: seen.update(url=get_settings().database_url), name="reader"
    )
    reader.start()
    assert read_env.wait(10)
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", "postgresql://b/b")
    get_settings.cache_clear()
    resume.set()
    reader.join(10)
    assert seen["url"] == "postgresql://a/a"
    assert get_settings().database_url == "postgresql://b/b"
    assert get_settings() is get_settings(), "read once, then kept"
