"""Background work and the samples it delivers: the engine's jobs on :class:`WorkLane` workers.

The jobs controller owns the lanes (open, colorize, draft, preview, reference, export), their progress and
Cancel, the colorize / more-samples / preview requests and their coalescing, and the samples panel
(model, chosen sample, side-by-side comparison). Other controllers are given the lane they submit to and
handle its results themselves.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import QLabel, QToolButton, QWidget

from colorstudio.engine.jobs import DraftJob, PredictJob, PreviewJob
from colorstudio.engine.session import Session
from colorstudio.errors import ColorStudioError
from colorstudio.gui.commands import ChooseSampleCommand
from colorstudio.gui.compare import CompareDialog
from colorstudio.gui.feedback import Feedback, duration
from colorstudio.gui.panels import ElidedProgressBar, SamplesPanel
from colorstudio.gui.workers import WorkLane

__all__ = ["JobsController"]


class JobsController(QObject):
    """Runs the session's jobs in the background and shows their progress; the samples panel's controller.

    ``predicted`` is emitted when a prediction has finished (the loaded model now tells what it supports).
    """

    predicted = Signal()

    def __init__(self, session: Session, undo_stack: QUndoStack, feedback: Feedback, panel: SamplesPanel,
                 cancel_action: QAction, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.undo_stack = undo_stack
        self.feedback = feedback
        self.panel = panel
        self.cancel_action = cancel_action
        self._window = parent
        self.open_lane = WorkLane("open", parent=self)
        self.predict_lane = WorkLane("colorize", parent=self)
        # A sampler's instant draft after a hint: its own lane, so it never waits behind running samples.
        self.draft_lane = WorkLane("draft", parent=self)
        self.preview_lane = WorkLane("preview", parent=self)
        self.reference_lane = WorkLane("reference", parent=self)
        self.export_lane = WorkLane("export", parent=self)
        self._predict_paused = False  # after Cancel or an error: no automatic re-prediction
        self._scheduled: set[str] = set()
        self.compare_dialog: CompareDialog | None = None
        # The status bar's share of the work: progress, Cancel and the model's working resolution.
        self.work_label = QLabel("work: –")
        self.work_label.setToolTip("Working resolution of the model (preview long side 512 px; export at full size)")
        self.status_progress = ElidedProgressBar()
        self.status_progress.setFixedWidth(220)
        self.status_progress.setVisible(False)
        self.status_cancel = QToolButton()
        self.status_cancel.setDefaultAction(cancel_action)
        self.status_cancel.setVisible(False)
        cancel_action.setEnabled(False)  # nothing runs yet

        panel.colorize_requested.connect(self.colorize)
        panel.more_requested.connect(self.more_samples)
        panel.cancel_requested.connect(self.cancel)
        panel.sample_clicked.connect(self.choose_sample)
        panel.model_requested.connect(self.set_model)
        panel.compare_requested.connect(self.compare_samples)
        session.events.stale.connect(self._schedule)
        session.events.image.connect(self._image_changed)
        self.predict_lane.partial.connect(self._sample_arrived)
        self.predict_lane.done.connect(self._predict_done)
        self.predict_lane.failed.connect(self._predict_failed)
        self.predict_lane.cancelled.connect(lambda _g: self.feedback.set_status("Colorization cancelled"))
        self.predict_lane.progress.connect(self._progress)
        self.predict_lane.busy_changed.connect(self._predict_busy)
        self.draft_lane.done.connect(self._draft_done)
        self.draft_lane.failed.connect(lambda _g, m: self.feedback.show_error("Draft failed", m))
        self.preview_lane.done.connect(self._preview_done)
        self.preview_lane.failed.connect(lambda _g, m: self.feedback.show_error("Preview failed", m))
        for lane in (self.open_lane, self.export_lane):
            lane.progress.connect(self._progress)
            lane.busy_changed.connect(self._busy_any)

    @property
    def lanes(self) -> tuple[WorkLane, ...]:
        return self.predict_lane, self.draft_lane, self.preview_lane, self.open_lane, self.reference_lane, self.export_lane

    # ------------------------------------------------------------------ progress and Cancel
    def _progress(self, fraction: float, message: str) -> None:
        self.status_progress.show_progress(fraction, message)
        self.panel.set_progress(fraction, message)

    def _busy_any(self, busy: bool) -> None:
        busy = busy or self.predict_lane.busy or self.open_lane.busy or self.export_lane.busy
        self.status_progress.setVisible(busy)
        self.status_cancel.setVisible(busy)
        self.cancel_action.setEnabled(busy)
        self.panel.set_busy(self.predict_lane.busy)

    def cancel(self) -> None:
        self._predict_paused = True
        for lane in (self.predict_lane, self.open_lane, self.export_lane):
            lane.cancel()

    def halt_predictions(self) -> None:
        """Drop the running prediction and preview: the session is about to get another photo."""
        self.predict_lane.cancel()
        self.draft_lane.cancel()
        self.preview_lane.cancel()

    def resume_predictions(self) -> None:
        """A new photo (or session) is in: changes may start predictions again."""
        self._predict_paused = False

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Cancel all work and wait for the workers (the window is closing)."""
        for lane in self.lanes:
            lane.cancel()
        for lane in self.lanes:
            lane.wait_idle(timeout_s)

    def enable_buttons(self, colorize: bool, more: bool) -> None:
        self.panel.colorize_button.setEnabled(colorize)
        self.panel.more_button.setEnabled(more)

    def _image_changed(self) -> None:
        if self.session.image is not None:
            self.work_label.setText("work: –")

    # ------------------------------------------------------------------ model, colorize, samples
    def set_model(self, name: str) -> None:
        self.feedback.new_action()
        try:
            self.session.set_model(name)
        except ColorStudioError as exc:
            self.feedback.show_error("Cannot use this model", str(exc))
            self.panel.show_model()
            return
        self.feedback.set_status(f"Model: {name}")

    def colorize(self) -> None:
        if not self.session.has_image:
            return
        self.feedback.new_action()
        try:
            request = self.session.begin_colorize()
        except ColorStudioError as exc:
            self.feedback.show_error("Cannot colorize", str(exc))
            return
        self._predict_paused = False
        self._submit_predict(request, supersede=True)

    def more_samples(self) -> None:
        if not self.session.has_image:
            return
        self.feedback.new_action()
        request = self.session.begin_more_samples()
        self._predict_paused = False
        self._submit_predict(request, supersede=False)

    def _submit_predict(self, request, *, supersede: bool) -> None:
        job = PredictJob(self.session.colorizers)
        revision = request.revision

        def work(progress, cancel, partial):
            return job.run(request, progress, cancel, on_sample=lambda sample: partial((revision, sample)))

        self.predict_lane.submit(work, supersede=supersede)

    def _sample_arrived(self, _generation: int, item) -> None:
        revision, sample = item
        if self.session.accept_sample(revision, sample):
            w, h = sample.work_size
            self.work_label.setText(f"work: {w} × {h}")

    def _predict_done(self, _generation: int, samples: list, seconds: float) -> None:
        self.feedback.timed("colorize", seconds)
        self.panel.show_model()  # the loaded model now tells whether it samples
        self.predicted.emit()
        if samples and self.session.supports_samples():
            seeds = ", ".join(str(s.seed) for s in samples)
            plural = "s" if len(samples) != 1 else ""
            self.feedback.set_status(f"{len(samples)} sample{plural} ready (seed{plural} {seeds}) in {duration(seconds)}")
        elif samples:
            self.feedback.set_status(f"Colorized with {self.session.model} in {duration(seconds)}. Click the photo to "
                                     "add hints; U shows where the model is unsure.")

    def _predict_failed(self, _generation: int, message: str) -> None:
        self._predict_paused = True
        self.feedback.show_error("Colorization failed", message)

    def _predict_busy(self, busy: bool) -> None:
        self._busy_any(busy)
        if busy:
            return
        if self._predict_paused:
            self.session.discard_unfinished()  # cancelled or failed: those seeds will not arrive
        elif self.session.samples_pending:
            self._schedule("predict")

    def choose_sample(self, index: int) -> None:
        if index != self.session.chosen and 0 <= index < len(self.session.slots):
            self.undo_stack.push(ChooseSampleCommand(self.session, index))

    def compare_samples(self) -> None:
        """Open the side-by-side view on the current sample and the next one that has arrived."""
        arrived = [i for i, slot in enumerate(self.session.slots) if slot.sample is not None]
        if len(arrived) < 2:
            return
        if self.compare_dialog is None:
            self.compare_dialog = CompareDialog(self.session, self._window)
            self.compare_dialog.choose_requested.connect(self.choose_sample)
        left = self.session.chosen if self.session.chosen in arrived else arrived[0]
        right = next((i for i in arrived if i > left), arrived[0] if arrived[0] != left else arrived[1])
        self.compare_dialog.show()
        self.compare_dialog.raise_()
        self.compare_dialog.show_pair(left, right)

    # ------------------------------------------------------------------ background scheduling
    def _schedule(self, what: str) -> None:
        """Coalesce bursts of changes (one event-loop turn) into one request."""
        if what in self._scheduled:
            return
        self._scheduled.add(what)
        QTimer.singleShot(0, self, lambda: self._run_scheduled(what))

    def _run_scheduled(self, what: str) -> None:
        self._scheduled.discard(what)
        if what == "draft":
            draft = self.session.draft_request()
            if draft is not None:
                drafter = DraftJob(self.session.colorizers)
                self.draft_lane.submit(lambda progress, cancel, _p: (draft.revision, drafter.run(draft, progress, cancel)),
                                       supersede=True)
        elif what == "predict":
            if self._predict_paused and not self.session.hints and not self.session.slots:
                return
            request = self.session.refresh_request()
            if request is not None:
                self._predict_paused = False
                self._submit_predict(request, supersede=False)
        elif what == "preview":
            preview = self.session.preview_request()
            if preview is not None:
                job = PreviewJob()
                self.preview_lane.submit(lambda progress, cancel, _p: job.run(preview, progress, cancel))

    def _draft_done(self, _generation: int, result, seconds: float) -> None:
        revision, draft = result
        self.session.accept_draft(revision, draft)

    def _preview_done(self, _generation: int, result, seconds: float) -> None:
        if self.session.accept_preview(result):
            self.feedback.timed("preview", seconds)
            if result.draft:
                self.feedback.set_status("Draft: the model's colour histograms with your hints; the samples "
                                         "replace it as they arrive")
