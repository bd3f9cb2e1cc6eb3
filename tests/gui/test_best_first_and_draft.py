"""Issue 14 in the window: a ranking model's gallery is best first with each score, a pick survives the
re-sorting (and its undo), and after a hint the draft shows before the samples, which then replace it."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt

from gui_helpers import open_and_colorize, wait_idle
from test_session_fakes import fake_ranking_session, fake_score

pytestmark = pytest.mark.gui


@pytest.fixture
def ranking_window(qtbot, tmp_path, settings_path):
    from PySide6.QtCore import QSettings

    from colorstudio.gui.main_window import MainWindow

    window = MainWindow(fake_ranking_session(), settings=QSettings(str(settings_path), QSettings.Format.IniFormat),
                        state_dir=tmp_path / "state", confirm_close=False, session_factory=fake_ranking_session)
    window.resize(1100, 760)
    qtbot.addWidget(window)
    window.show()
    return window


def test_the_gallery_is_best_first_with_each_score_and_a_pick_is_undone_by_seed(qtbot, ranking_window, gray_path):
    window = ranking_window
    open_and_colorize(qtbot, window, gray_path, n=4)
    gallery = window.samples_panel.gallery
    texts = [gallery.item(row).text() for row in range(gallery.count())]
    assert texts == [f"seed {seed} · {fake_score(seed):.2f}" for seed in (0, 3, 2, 1)]
    assert "Plausibility -1.00" in gallery.item(1).toolTip() and "most plausible first" in gallery.item(1).toolTip()
    assert window.session.chosen == 0 and gallery.currentRow() == 0

    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=gallery.visualItemRect(gallery.item(2)).center())
    wait_idle(qtbot, window)
    assert window.session.slots[window.session.chosen].seed == 2 and window.session.result.seed == 2
    window.session.set_sample_count(2)
    qtbot.mouseClick(window.samples_panel.more_button, Qt.MouseButton.LeftButton)  # seeds 4 (-6), 5 (-4)
    wait_idle(qtbot, window)
    assert [slot.seed for slot in window.session.slots] == [0, 3, 2, 5, 1, 4]
    assert window.session.slots[window.session.chosen].seed == 2 and gallery.currentRow() == 2
    window.undo_stack.undo()  # back to the sample that was chosen before the click: seed 0, wherever it is
    assert window.session.slots[window.session.chosen].seed == 0


def test_after_a_hint_the_draft_shows_first_and_the_samples_replace_it(qtbot, ranking_window, gray_path):
    """Functional, not timed: the samples are held back until the draft has been seen on screen."""
    window = ranking_window
    open_and_colorize(qtbot, window, gray_path, n=3)
    s = window.session
    s.fake.gate = gate = threading.Event()
    seen = []
    s.events.result.connect(lambda: seen.append(s.result.draft))
    window.hints.add_hint(30, 20, "#c03020")
    qtbot.waitUntil(lambda: s.result is not None and s.result.draft, timeout=10_000)
    assert all(slot.stale for slot in s.slots) and window.jobs.predict_lane.busy  # samples still on their way
    assert "Draft" in window.statusBar().currentMessage()
    gate.set()
    wait_idle(qtbot, window)
    assert not s.result.draft and s.result.seed == s.slots[s.chosen].seed
    assert seen[0] is True and seen[-1] is False
