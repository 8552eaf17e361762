"""The intake, driven without the watcher: which events become queued scans,
which become messages for the recorder, and what asks for a reconcile."""

from __future__ import annotations

import threading
from pathlib import Path

from daemon.node.contracts import Deleted, DirDeleted, Renamed
from daemon.node.intake import Intake, not_scanned
from daemon.node.work_queue import KnownFiles, WorkQueue
from tests.daemon.daemon_harness import Posted, one_root


class _Claims:
    def __init__(self, *paths: str) -> None:
        self.paths = set(paths)

    def claims(self, path: str) -> bool:
        return path in self.paths


def _intake(tmp: Path, capacity: int = 10) -> tuple[Intake, Posted, Path]:
    seen = Posted()
    intake = Intake(roots=one_root(tmp), queue=WorkQueue(capacity), known=KnownFiles(),
                    post=seen.post, events_missed=seen.events_missed,
                    quiet_period=lambda: 2.0)
    return intake, seen, tmp / "root" / "s1"


def test_a_closed_file_is_due_now_a_modified_one_after_the_quiet_period(
        tmp_path: Path) -> None:
    intake, _, s1 = _intake(tmp_path)
    intake.file_changed(str(s1 / "a"), closed=True, event_time=100.0)
    intake.file_changed(str(s1 / "b"), closed=False, event_time=100.0)
    got = {i.path: (i.due, i.root) for i in intake.queue.take_due(200.0, 5, timeout=0)}
    root = str(tmp_path / "root") + "/{session}"
    assert got == {str(s1 / "a"): (100.0, root), str(s1 / "b"): (102.0, root)}


def test_outside_the_roots_the_root_dir_itself_and_our_own_files_are_ignored(
        tmp_path: Path) -> None:
    intake, seen, s1 = _intake(tmp_path)
    for path in (tmp_path / "elsewhere" / "a", s1, s1 / "a.swenc", s1 / ".x.data.tmp"):
        intake.file_changed(str(path), closed=True, event_time=1.0)
    assert len(intake.queue) == 0 and seen.messages == [] and seen.missed == []
    assert not_scanned(str(s1 / "a.swenc")) and not not_scanned(str(s1 / "a.txt"))


def test_deletes_and_moves_become_messages_in_order_and_leave_the_queue(
        tmp_path: Path) -> None:
    intake, seen, s1 = _intake(tmp_path)
    a, b, c = (str(s1 / n) for n in "abc")
    intake.file_changed(a, closed=False, event_time=1.0)
    intake.file_changed(b, closed=False, event_time=1.0)
    intake.known.remember(a, 1, 1, 1)
    intake.file_deleted(a)
    intake.file_moved(b, c, event_time=5.0)
    intake.dir_deleted(str(s1 / "d"))
    assert seen.messages == [Deleted(a), Renamed(b, c), DirDeleted(str(s1 / "d"))]
    assert [i.path for i in intake.queue.take_due(100.0, 5, timeout=0)] == [c]  # the new name


def test_what_the_enforcer_claims_is_not_recorded_by_the_intake(tmp_path: Path) -> None:
    intake, seen, s1 = _intake(tmp_path)
    intake.claims = _Claims(str(s1 / "a"), str(s1 / "b"))
    intake.file_deleted(str(s1 / "a"))
    intake.file_moved(str(s1 / "b"), str(s1 / "b.swenc"), event_time=1.0)
    assert seen.messages == [] and len(intake.queue) == 0


def test_a_file_moved_in_from_outside_is_queued_without_a_rename(tmp_path: Path) -> None:
    intake, seen, s1 = _intake(tmp_path)
    intake.file_moved(str(tmp_path / "outside"), str(s1 / "in"), event_time=1.0)
    assert seen.messages == [] and len(intake.queue) == 1


def test_a_full_queue_a_full_dir_queue_and_a_handler_error_ask_for_a_reconcile(
        tmp_path: Path) -> None:
    intake, seen, s1 = _intake(tmp_path, capacity=1)
    intake.file_changed(str(s1 / "a"), closed=True, event_time=1.0)
    intake.file_changed(str(s1 / "b"), closed=True, event_time=1.0)
    intake.new_dirs.maxsize = 1
    intake.dir_appeared(str(s1 / "d1"))
    intake.dir_appeared(str(s1 / "d2"))
    intake.dir_appeared("/not/under/a/base")  # ignored, not counted
    intake.handler_error(RuntimeError("boom"))
    assert seen.missed == ["queue-full", "new-dirs-full", "handler-error"]


def test_a_new_directory_is_walked_for_files_that_raised_no_event(tmp_path: Path) -> None:
    intake, _, s1 = _intake(tmp_path)
    (s1 / "new" / "deep").mkdir(parents=True)
    for name in ("new/x.txt", "new/deep/y.txt", "new/z.swenc"):
        (s1 / name).write_text("v")
    intake.dir_appeared(str(s1 / "new"))
    intake.walk_new_dir(intake.new_dirs.get_nowait(), threading.Event())
    got = sorted(i.path for i in intake.queue.take_due(1e12, 10, timeout=0))
    assert got == [str(s1 / "new" / "deep" / "y.txt"), str(s1 / "new" / "x.txt")]
