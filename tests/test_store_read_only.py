"""A store this process may not write (a read-only mount, another user's store) can be read, never changed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from edit_agent import EditSession
from edit_agent.cli import main
from edit_agent.errors import StoreError
from edit_agent.store import DATABASE_NAME, Store


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, str]:
    """A store with one two-turn session, written and closed by another process, as a shared store would be."""
    folder = tmp_path / "shared"
    script = (
        "from PIL import Image\nfrom edit_agent import EditSession\n"
        f"s = EditSession(store={str(folder)!r})\n"
        "s.edit(Image.new('RGB', (32, 24), 'navy'), 'make it brighter')\n"
        "s.edit(None, 'rotate it 90 degrees')\nprint(s.id)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return folder, done.stdout.strip()


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def check_reads_and_refuses_writes(store: Store, session_id: str, tmp_path: Path) -> None:
    before = fingerprint(store.folder)
    session = EditSession.open(session_id, store=store)
    assert [turn.instruction for turn in session.history] == ["make it brighter", "rotate it 90 degrees"]
    assert session.head.image.size == (24, 32) and EditSession.list(store) == [session_id]
    copy = EditSession.import_zip(session.export_zip(tmp_path / "copy.zip"), store=tmp_path / "mine")
    assert len(copy.history) == 2
    for change in (lambda: session.edit(None, "make it darker"), session.undo, lambda: session.checkout(None),
                   session.delete, lambda: EditSession.import_zip(tmp_path / "copy.zip", store=store),
                   lambda: EditSession(store=store).edit(Image.new("RGB", (16, 16)), "make it brighter")):
        with pytest.raises(StoreError, match="open read-only: its sessions can be read and exported, not changed"):
            change()
    assert fingerprint(store.folder) == before and len(EditSession.open(session_id, store=store).history) == 2


def test_a_store_opened_read_only_reads_and_exports_but_never_writes(made, tmp_path):
    folder, session_id = made
    check_reads_and_refuses_writes(Store(folder, read_only=True), session_id, tmp_path)


def test_a_store_this_process_may_not_write_opens_read_only_by_itself(made, tmp_path, monkeypatch):
    folder, session_id = made
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if mode == os.W_OK else real_access(path, mode))
    store = Store(folder)
    assert store.read_only
    check_reads_and_refuses_writes(store, session_id, tmp_path)


def test_an_absent_or_foreign_store_opened_read_only_is_one_clear_error(tmp_path):
    with pytest.raises(StoreError, match="Cannot use .* as a session store"):
        Store(tmp_path / "nothing", read_only=True)
    assert not (tmp_path / "nothing").exists()
    import sqlite3

    (tmp_path / "other").mkdir()
    sqlite3.connect(tmp_path / "other" / DATABASE_NAME).execute("CREATE TABLE notes (text)").connection.commit()
    with pytest.raises(StoreError, match="not an edit-agent session store"):
        Store(tmp_path / "other", read_only=True)


@contextlib.contextmanager
def read_only_mount(folder: Path, where: Path):
    where.mkdir()
    if subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(where)], capture_output=True).returncode:
        pytest.skip("a read-only bind mount needs root with mount rights; the other tests simulate one")
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], check=True)  # the cached store holds a file open


def test_a_store_on_a_read_only_mount_lists_shows_and_exports_from_the_command_line(made, tmp_path, capsys):
    folder, session_id = made
    with read_only_mount(folder, tmp_path / "mounted") as mounted:
        assert main(["sessions", "list", "--store", str(mounted)]) == 0
        assert session_id in capsys.readouterr().out
        assert main(["sessions", "show", session_id[:8], "--store", str(mounted)]) == 0
        assert "'rotate it 90 degrees'" in capsys.readouterr().out
        assert main(["sessions", "export", session_id[:8], str(tmp_path / "s.zip"), "--store", str(mounted)]) == 0
        assert main(["sessions", "delete", session_id, "--store", str(mounted)]) == 2
        assert "open read-only" in capsys.readouterr().err
        assert main(["sessions", "list", "--store", str(mounted)]) == 0 and session_id in capsys.readouterr().out


def test_an_edit_on_a_read_only_store_is_refused_before_any_model_runs(made, tmp_path):
    from edit_agent.testing import RecordingEditor

    folder, session_id = made
    editor = RecordingEditor()
    session = EditSession.open(session_id, store=Store(folder, read_only=True), editor=editor)
    with pytest.raises(StoreError, match="open read-only"):
        session.edit(None, "make it darker")
    assert editor.calls == []


def test_agent_tools_on_a_read_only_store_list_and_read_but_claim_nothing(made, tmp_path):
    from edit_agent.tools import SessionOwners

    folder, _ = made
    owners = SessionOwners(Store(folder, read_only=True))  # no owners.db there: nobody owns a session
    assert owners.sessions("t" * 40) == []
    with pytest.raises(StoreError, match="open read-only"):
        owners.claim("f" * 32, "t" * 40)
    assert not (folder / "owners.db").exists()


def test_a_store_made_before_its_creation_time_was_kept_opens_read_only(made):
    import sqlite3

    folder, session_id = made
    with sqlite3.connect(folder / DATABASE_NAME) as database:
        database.execute("DROP TABLE store_info")
    assert EditSession.list(Store(folder, read_only=True)) == [session_id]


def test_the_process_wide_store_reads_again_once_a_read_only_store_changed(made, tmp_path, monkeypatch):
    from edit_agent.session import open_store

    folder, session_id = made
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if mode == os.W_OK else real_access(path, mode))
    first = open_store(folder)
    assert first.read_only and open_store(folder) is first
    monkeypatch.setattr(os, "access", real_access)  # the folder can be written now (remounted, say)
    again = open_store(folder)
    assert again is not first and not again.read_only
    assert [turn.instruction for turn in EditSession.open(session_id, store=first).history] == [
        "make it brighter", "rotate it 90 degrees"]  # the stale one still serves a session opened on it


def test_a_read_only_store_with_a_killed_writers_log_says_what_to_do(tmp_path):
    folder = tmp_path / "shared"
    script = (  # a writer killed after its edit: the edit is in the write-ahead log, not yet in the database file
        "import os\nfrom PIL import Image\nfrom edit_agent import EditSession\n"
        f"s = EditSession(store={str(folder)!r})\n"
        "s.edit(Image.new('RGB', (32, 24), 'navy'), 'make it brighter')\nos._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", script], capture_output=True, check=False,
                   env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert (folder / f"{DATABASE_NAME}-wal").stat().st_size > 0
    (folder / f"{DATABASE_NAME}-shm").unlink()
    told = "holds edits that a process which stopped .* left to fold into the"
    with read_only_mount(folder, tmp_path / "mounted") as mounted, pytest.raises(StoreError, match=told):
        Store(mounted)
    assert len(EditSession.list(store=folder)) == 1  # where it can be written, the store opens with the edit
