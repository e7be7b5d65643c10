"""Which virtual person anonymise shows: the user's own (kept across runs), a new unlinkable one
per run, or a fixed one; "New face" in the app draws and keeps another."""

from __future__ import annotations

import numpy as np
import pytest

from vcam.app.config import Config
from vcam.app.controller import EngineController
from vcam.app.identity_seed import new_seed, resolve_seed, seed_file
from vcam.app.tray import TrayApp
from vcam.engine.errors import ConfigError
from vcam.engine.filters import AnonymiseFilter

from conftest import EVM_VIDEO, need


def test_own_seed_is_kept_random_is_not_and_numbers_are_taken_as_given(tmp_path) -> None:
    path = tmp_path / "seed"
    own = resolve_seed("", path)
    assert path.read_text().strip() == str(own) and resolve_seed("", path) == own
    randoms = {resolve_seed("random", path) for _ in range(3)}
    assert len(randoms) == 3 and own not in randoms and resolve_seed("", path) == own
    assert resolve_seed("42", path) == 42
    assert new_seed(path) != own and resolve_seed("", path) != own


def test_an_unwritable_seed_file_still_gives_a_face(tmp_path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    seed = resolve_seed("", blocker / "seed")  # its folder is a file
    assert isinstance(seed, int) and "cannot keep" in caplog.text


@pytest.mark.parametrize("value", ["-1", "abc", "1.5"])
def test_bad_seed_setting_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="identity_seed must be"):
        Config(identity_seed=value).validate()


def test_new_face_button_swaps_the_running_virtual_person(qtbot, tmp_path) -> None:
    cfg = Config(source=str(need(EVM_VIDEO)), sink="null", filter="anonymise", realtime=True, monitors=False)
    ctl = EngineController(cfg, tmp_path / "config.toml")
    try:
        app = TrayApp(ctl)
        qtbot.addWidget(app.window)
        ctl.start()
        qtbot.waitUntil(lambda: ctl.pipe is not None and ctl.pipe.metrics.frames > 3, timeout=30_000)
        before = ctl.pipe.filter
        assert isinstance(before, AnonymiseFilter) and before.person.seed == int(seed_file().read_text())
        app.window.new_face.click()
        after = ctl.pipe.filter
        assert isinstance(after, AnonymiseFilter) and after.person.seed != before.person.seed
        assert after.person.seed == int(seed_file().read_text())
        assert not np.array_equal(after.person.albedo, before.person.albedo)
    finally:
        ctl.stop()
