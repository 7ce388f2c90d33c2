"""The store: crash safety under SIGKILL, concurrent threads, orphan sweeping."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from edit_agent import EditSession
from edit_agent.errors import ConcurrentEditError, InvalidImageError
from edit_agent.images import image_hash
from edit_agent.store import Store
from edit_agent.testing import RecordingEditor, ScriptedReasoner

REPO = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import sys
    from PIL import Image, ImageDraw
    from edit_agent import EditSession
    from edit_agent.testing import RecordingEditor, ScriptedReasoner

    store, session_id = sys.argv[1], sys.argv[2]

    def draw(image, intent):
        # every turn's output differs, so every turn writes new image files
        out = image.copy()
        ImageDraw.Draw(out).text((2, 2), intent.text, fill=(255, 255, 0))
        return out.rotate(7)

    session = EditSession(store=store, reasoner=ScriptedReasoner(), editor=RecordingEditor(draw),
                          session_id=session_id)
    image = None if session.head is not None or session.turn_records() else Image.new("RGB", (96, 96), "teal")
    print("ready", flush=True)
    number = len(session.turn_records())
    while True:
        number += 1
        result = session.edit(image, f"turn {number}")
        image = None
        print(result.turn_id, flush=True)
    """
)


def check_store(folder: Path, session_id: str, committed: set[str]) -> int:
    store = Store(folder)
    try:
        assert store.integrity_check() == "ok"
        turns = store.turns(session_id)
        by_id = {turn.id: turn for turn in turns}
        assert committed <= set(by_id), "a turn reported as committed is missing"
        assert [t.seq for t in turns] == list(range(1, len(turns) + 1))
        session = store.get_session(session_id)
        assert session.head == turns[-1].id  # each child continues from the head
        for turn in turns:  # no partial turn: every row's images exist and match their hash
            assert turn.parent_id is None or turn.parent_id in by_id
            for digest in (turn.input_hash, turn.output_hash):
                assert image_hash(store.load_image(digest)) == digest
        return len(turns)
    finally:
        store.close()


def test_sigkill_mid_turn_never_loses_or_half_writes_a_turn(tmp_path):
    folder, session_id = tmp_path / "store", "crash-session"
    rng = random.Random(0)
    committed: set[str] = set()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    counts = []
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(folder), session_id],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        time.sleep(rng.uniform(0.02, 0.4))
        child.send_signal(signal.SIGKILL)
        output, _ = child.communicate()
        committed.update(line.strip() for line in output.splitlines() if line.strip())
        counts.append(check_store(folder, session_id, committed))
    assert counts == sorted(counts) and counts[-1] >= 20  # turns accumulate over the 20 runs
    reopened = EditSession.open(session_id, store=folder, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    assert len(reopened.history) == counts[-1]


def test_two_threads_editing_one_session_are_serialised(tmp_path):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor(delay=0.002))
    session.edit(Image.new("RGB", (32, 32), "white"), "start")
    twin = EditSession.open(session.id, store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    errors: list[BaseException] = []

    def work(editor_session: EditSession, name: str) -> None:
        try:
            for number in range(15):
                editor_session.edit(None, f"{name} {number}")
        except BaseException as error:  # surfaced below, e.g. 'database is locked'
            errors.append(error)

    threads = [threading.Thread(target=work, args=(s, n)) for s, n in ((session, "a"), (twin, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = session.history
    assert len(history) == 31 and len(session.turns) == 31  # one chain: nothing lost or branched
    assert len({turn.turn_id for turn in history}) == 31
    instructions = [turn.instruction for turn in history[1:]]
    assert sorted(instructions) == sorted([f"a {n}" for n in range(15)] + [f"b {n}" for n in range(15)])


def test_a_head_moved_by_another_process_refuses_the_commit(tmp_path):
    folder = tmp_path / "store"
    session = EditSession(store=folder, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    session.edit(Image.new("RGB", (32, 32), "white"), "start")
    other_process = textwrap.dedent(
        f"""
        from edit_agent import EditSession
        from edit_agent.testing import RecordingEditor, ScriptedReasoner
        s = EditSession.open({session.id!r}, store={str(folder)!r}, reasoner=ScriptedReasoner(), editor=RecordingEditor())
        s.edit(None, "from the other process")
        """
    )

    def edit_elsewhere_meanwhile(image, intent):
        subprocess.run([sys.executable, "-c", other_process], check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        return image

    session._editor = RecordingEditor(edit_elsewhere_meanwhile)
    with pytest.raises(ConcurrentEditError, match="Try the turn again"):
        session.edit(None, "mine")
    assert [t.instruction for t in session.history] == ["start", "from the other process"]
    session._editor = RecordingEditor()
    session.edit(None, "mine")  # as the error says: again, with no reopening
    assert [t.instruction for t in session.history] == ["start", "from the other process", "mine"]


def test_editing_a_session_another_process_deleted_says_it_was_deleted(tmp_path):
    from edit_agent.errors import UnknownSessionError

    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    session.edit(Image.new("RGB", (16, 16), "red"), "one")
    reopened = EditSession.open(session.id, store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    Store(tmp_path).delete_session(session.id)  # another process
    for deleted in (session, reopened):
        with pytest.raises(UnknownSessionError, match="no longer in the store .* was deleted"):
            deleted.edit(None, "two")
    with pytest.raises(InvalidImageError, match="first turn of a session needs an image"):  # a new session: no image
        EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor()).edit(None, "two")


def test_a_session_started_by_another_process_meanwhile_refuses_the_commit(tmp_path):
    folder = tmp_path / "store"
    other_process = textwrap.dedent(
        f"""
        from PIL import Image
        from edit_agent import EditSession
        from edit_agent.testing import RecordingEditor, ScriptedReasoner
        s = EditSession(store={str(folder)!r}, session_id="shared", reasoner=ScriptedReasoner(), editor=RecordingEditor())
        s.edit(Image.new("RGB", (32, 32), "white"), "from the other process")
        """
    )

    def start_elsewhere_meanwhile(image, intent):
        subprocess.run([sys.executable, "-c", other_process], check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        return image

    session = EditSession(store=folder, session_id="shared", reasoner=ScriptedReasoner(),
                          editor=RecordingEditor(start_elsewhere_meanwhile))
    with pytest.raises(ConcurrentEditError, match="started by another process"):
        session.edit(Image.new("RGB", (32, 32), "black"), "mine")
    assert [t.instruction for t in session.history] == ["from the other process"]


def test_orphan_images_are_swept_on_open_after_a_grace_period(tmp_path):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    kept = session.edit(Image.new("RGB", (16, 16), "red"), "one")
    store = Store(tmp_path)
    orphan = store.image_path(store.put_image(Image.new("RGB", (16, 16), "blue")))
    stale_temp = orphan.parent / "tmpx8_k2q1.tmp"  # as put_image's mkstemp names them
    stale_temp.write_bytes(b"partial")
    assert Store(tmp_path).sweep_orphans() == 0  # young files may belong to a turn in progress
    old = time.time() - 7200
    for path in (orphan, stale_temp):
        os.utime(path, (old, old))
    _created_at(tmp_path, old - 1)  # the files are the store's own: written after its database was made
    Store(tmp_path)  # opening sweeps
    assert not orphan.exists() and not stale_temp.exists()
    assert kept.image.getpixel((0, 0)) == (255, 0, 0)
    assert Store(tmp_path).integrity_check() == "ok"


def test_the_sweep_deletes_only_the_stores_own_files_and_nothing_when_the_database_is_new(tmp_path):
    old = time.time() - 7200
    # A folder of someone's pictures opened as a store (say by "edit-agent sessions list --store ~/Pictures").
    pictures = tmp_path / "pictures"
    (pictures / "images" / "holiday").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(pictures / "images" / "holiday" / "beach.png")
    # A real store whose database was lost: its images are all that is left of its sessions.
    lost = tmp_path / "lost"
    store = Store(lost)
    images = [store.image_path(store.put_image(Image.new("RGB", (16, 16), color))) for color in ("red", "blue")]
    store.close()
    for name in ("edit_agent.db", "edit_agent.db-wal", "edit_agent.db-shm"):
        (lost / name).unlink(missing_ok=True)
    # In a live store, files the store did not write stay too: a stray note, a folder.
    live = tmp_path / "live"
    Store(live).close()
    note = live / "images" / "ab" / "notes.txt"
    note.parent.mkdir()
    note.write_text("mine")
    (live / "images" / "ab" / "subfolder").mkdir()
    everything = [*pictures.rglob("*"), *images, note]
    for path in everything:
        os.utime(path, (old, old))
    _created_at(live, old - 1)  # the stray files are newer than the live store's database, and still stay
    for folder in (pictures, lost, live, pictures, lost, live):  # twice: the second open finds tables
        Store(folder).close()
    assert all(path.exists() for path in everything) and images


def _created_at(folder: Path, when: float) -> None:
    """Date a store's database back, as if it had been made at ``when``."""
    import sqlite3

    with sqlite3.connect(folder / "edit_agent.db") as connection:
        connection.execute("UPDATE store_info SET value = ? WHERE key = 'created'", [repr(when)])


def test_a_foreign_newer_or_damaged_database_is_one_store_error(tmp_path):
    import sqlite3

    from edit_agent.errors import StoreError

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "edit_agent.db") as connection:
        connection.execute("CREATE TABLE sessions (name TEXT)")
    newer = tmp_path / "newer"
    Store(newer).close()
    with sqlite3.connect(newer / "edit_agent.db") as connection:
        connection.execute("PRAGMA user_version = 7")
    for folder, message in ((foreign, "not an edit-agent session store"), (newer, "newer edit-agent")):
        with pytest.raises(StoreError, match=message):
            Store(folder)
    damaged = tmp_path / "damaged"
    session = EditSession(store=damaged, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    session.edit(Image.new("RGB", (16, 16)), "one")
    with sqlite3.connect(damaged / "edit_agent.db") as connection:  # a stored row no record can be made of
        connection.execute("UPDATE sessions SET settings = 'not json'")
    with pytest.raises(StoreError, match="damaged"):
        EditSession.open(session.id, store=damaged).undo()


def test_an_undo_started_before_another_process_moved_the_head_is_refused(tmp_path):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    first = session.edit(Image.new("RGB", (16, 16)), "one")
    second = session.edit(None, "two")
    other = Store(tmp_path)  # another process: its own connection
    third = EditSession.open(session.id, store=other, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    store = Store(tmp_path)
    # The undo read head two; the other process then commits three on top of it.
    third.edit(None, "three")
    with pytest.raises(ConcurrentEditError, match="changed by another process"):
        store.move_head(session.id, first.turn_id, expected_head=second.turn_id)
    assert store.get_session(session.id).head == third.head.turn_id  # the other process's turn stays the head


def test_a_full_disk_while_storing_an_image_is_a_store_error_and_saves_nothing(tmp_path, monkeypatch):
    import errno

    import edit_agent.store as store_module
    from edit_agent.errors import StoreError

    noisy = RecordingEditor(lambda image, intent: Image.effect_noise(image.size, 50).convert("RGB"))  # a new image
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=noisy)
    session.edit(Image.new("RGB", (16, 16)), "one")

    def disk_full(image):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "encode_png", disk_full)
    with pytest.raises(StoreError, match="No space left on device. Nothing was saved"):
        session.edit(None, "two", seed=1)
    assert [turn.instruction for turn in session.turns] == ["one"]
    assert not list((tmp_path / "images").rglob("*.tmp"))


def _age(paths, seconds: float) -> None:
    when = time.time() - seconds
    for path in paths:
        os.utime(path, (when, when))


def test_deleting_a_session_removes_its_turns_and_the_images_no_other_session_uses(tmp_path):
    from edit_agent.errors import UnknownSessionError

    shared_source = Image.new("RGB", (16, 16), "red")
    doomed = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    doomed.edit(shared_source, "one")
    own = doomed.edit(None, "two", seed=1)
    other = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    other.edit(shared_source, "three")  # the same source image, stored once
    store = Store(tmp_path)
    files = {path.stem: path for path in store.images_folder.glob("*/*.png")}
    _age(files.values(), 120)

    assert store.delete_session(doomed.id) == 0  # one image file: the source, which the other session uses
    assert store.list_sessions() == [other.id] and store.turns(doomed.id) == []
    assert store.image_path(image_hash(shared_source)).exists()
    with pytest.raises(UnknownSessionError):
        EditSession.open(doomed.id, store=tmp_path)
    with pytest.raises(UnknownSessionError):
        store.delete_session(doomed.id)
    assert other.history[0].image.getpixel((0, 0)) == (255, 0, 0)
    assert store.integrity_check() == "ok" and own.turn_id not in [t.id for t in store.turns(other.id)]


def test_a_deleted_sessions_own_images_go_unless_just_used(tmp_path):
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(),
                          editor=RecordingEditor(lambda image, intent: image.rotate(90)))
    session.edit(Image.linear_gradient("L").convert("RGB").resize((16, 24)), "one")
    store = Store(tmp_path)
    files = list(store.images_folder.glob("*/*.png"))
    assert len(files) == 2
    _age(files[:1], 120)  # the other was used a moment ago: an edit elsewhere may be about to name it
    assert store.delete_session(session.id) == 1
    assert not files[0].exists() and files[1].exists()


def test_an_import_whose_shared_images_a_deletion_removes_meanwhile_stores_them_again(tmp_path, monkeypatch):
    """A long import stores its images well before it commits; deleting the session it shares them with took
    the files meanwhile, and the import committed a session that named files no longer there."""
    def session_on(image):
        session = EditSession(store=tmp_path / "store", reasoner=ScriptedReasoner(),
                              editor=RecordingEditor(lambda image, intent: image.rotate(90)))
        session.edit(image, "one")
        return session

    photo = Image.linear_gradient("L").convert("RGB").resize((16, 24))
    exported = session_on(photo)
    exported.export(tmp_path / "export")
    Store(tmp_path / "store").delete_session(exported.id)
    sharing = session_on(photo)  # the export's source and output are this session's too
    commit = Store.import_session
    deletions = []

    def deleted_meanwhile(self, *records):
        if not deletions:  # another process, after the import stored its images and before it commits
            _age((tmp_path / "store" / "images").glob("*/*.png"), 120)  # a long import: marked in use long ago
            deletions.append(Store(tmp_path / "store").delete_session(sharing.id))
        commit(self, *records)

    monkeypatch.setattr(Store, "import_session", deleted_meanwhile)
    imported = EditSession.import_folder(tmp_path / "export", store=tmp_path / "store")
    assert deletions == [2]
    store = Store(tmp_path / "store")
    assert store.list_sessions() == [imported.id]
    assert store.load_image(image_hash(photo), from_file=True).tobytes() == photo.tobytes()
    assert store.load_image(image_hash(photo.rotate(90)), from_file=True).tobytes() == photo.rotate(90).tobytes()


def test_a_stored_image_cut_short_is_written_again_by_the_next_session_that_stores_it(tmp_path):
    """A truncated file was trusted because it was there: the next session named it, worked in the process that
    held its pixels, and failed in every later one."""
    image = Image.linear_gradient("L").convert("RGB").resize((32, 32))
    store = Store(tmp_path)
    path = store.image_path(store.put_image(image))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    session.edit(image, "one")
    assert path.read_bytes() == whole
    assert Store(tmp_path).load_image(image_hash(image), from_file=True).tobytes() == image.tobytes()


def test_a_deletion_stopped_before_its_files_go_leaves_no_session_naming_missing_files(tmp_path, monkeypatch):
    """The files went inside the transaction that deleted the rows: a kill or a failed commit after the first
    unlink left the session in place, naming files that were gone."""
    from edit_agent.errors import UnknownSessionError

    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    session.edit(Image.new("RGB", (16, 16), "red"), "one")
    store = Store(tmp_path)
    files = list(store.images_folder.glob("*/*.png"))
    _age(files, 120)

    def killed(self, digests):
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "_remove_unused_files", killed)
    with pytest.raises(KeyboardInterrupt):
        store.delete_session(session.id)
    monkeypatch.undo()
    assert Store(tmp_path).list_sessions() == [] and all(path.exists() for path in files)  # orphans, for the sweep
    with pytest.raises(UnknownSessionError):
        EditSession.open(session.id, store=tmp_path)


def test_reusing_a_stored_image_marks_it_as_just_used(tmp_path):
    store = Store(tmp_path)
    path = store.image_path(store.put_image(Image.new("RGB", (16, 16), "blue")))
    _age([path], 7200)
    store.put_image(Image.new("RGB", (16, 16), "blue"))  # a second session from the same image
    assert time.time() - path.stat().st_mtime < 5  # so neither the sweep nor a deletion takes it now


def test_stored_images_are_read_once_and_handed_out_as_copies(tmp_path, monkeypatch):
    store = Store(tmp_path)
    red = Image.new("RGB", (32, 16), (200, 10, 10))
    digest = store.put_image(red)
    red.paste((0, 0, 0), (0, 0, 32, 16))  # the caller's image, changed after storing
    decoded = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: decoded.append(a) or pytest.fail("decoded again"))
    first = store.load_image(digest)
    assert first.getpixel((0, 0)) == (200, 10, 10) and decoded == []
    first.paste((0, 0, 255), (0, 0, 32, 16))  # a caller drawing on what it got
    assert store.load_image(digest).getpixel((0, 0)) == (200, 10, 10)


def test_a_turns_image_changed_by_the_caller_is_not_the_next_turns_input(tmp_path):
    inputs = []
    editor = RecordingEditor(lambda image, intent: inputs.append(image.getpixel((0, 0))) or image.copy())
    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=editor)
    result = session.edit(Image.new("RGB", (16, 16), (10, 120, 10)), "a")
    result.image.paste((255, 255, 255), (0, 0, 16, 16))
    session.edit(None, "b")
    assert inputs == [(10, 120, 10), (10, 120, 10)]


def test_the_decoded_images_keep_to_their_byte_budget_least_recently_used_first(tmp_path):
    from edit_agent.decoded_images import DecodedImages

    files = []
    for shade in range(6):
        files.append(tmp_path / f"d{shade}.png")
        Image.new("RGB", (48, 48), (shade, 0, 0)).save(files[-1])
    kept = DecodedImages(max_bytes=4 * 48 * 48 * 4)  # four 48x48 RGB images, at Pillow's 4 bytes a pixel
    for path in files[:4]:
        kept.put(path, Image.open(path).convert("RGB"))
    assert kept.get(files[0]) is not None  # used again: the last to go
    for path in files[4:]:
        kept.put(path, Image.open(path).convert("RGB"))
    assert [kept.get(path) is not None for path in files] == [True, False, False, True, True, True]
    assert kept.bytes_held == 4 * 48 * 48 * 4
    large = tmp_path / "large.png"
    Image.new("RGB", (96, 96)).save(large)
    kept.put(large, Image.open(large).convert("RGB"))  # alone over half the budget: not kept
    assert kept.get(large) is None and kept.get(files[5]).getpixel((0, 0)) == (5, 0, 0)


def test_a_stored_image_rewritten_on_disk_is_read_again_not_served_from_memory(tmp_path):
    from edit_agent.errors import StoreError

    store = Store(tmp_path)
    digest = store.put_image(Image.new("RGB", (16, 16), (10, 120, 10)))
    assert store.load_image(digest).getpixel((0, 0)) == (10, 120, 10)
    store.image_path(digest).write_bytes(b"not a png")  # damaged in place
    with pytest.raises(StoreError, match="cannot be read"):
        store.load_image(digest)


def test_deleting_a_session_forgets_its_decoded_images(tmp_path):
    from edit_agent.decoded_images import shared_decoded_images

    session = EditSession(store=tmp_path, reasoner=ScriptedReasoner(), editor=RecordingEditor())
    session.edit(Image.new("RGB", (64, 64), (10, 120, 10)), "a")
    paths = [session._store.image_path(turn.output_hash) for turn in session.turn_records()]
    for path in paths:
        os.utime(path, (time.time() - 60, time.time() - 60))  # not an edit in progress
    held = shared_decoded_images().bytes_held
    session.delete()
    assert shared_decoded_images().bytes_held <= held - 64 * 64 * 4


def test_an_export_checks_the_files_it_copies_not_the_decoded_pixels(tmp_path):
    from edit_agent.errors import StoreError

    session = EditSession(store=tmp_path / "store", reasoner=ScriptedReasoner(), editor=RecordingEditor())
    result = session.edit(Image.new("RGB", (16, 16), (10, 120, 10)), "a")
    output = session.turn_records()[-1].output_hash
    assert session._store.load_image(output).size == result.image.size  # decoded and kept
    stored = session._store.image_path(output)
    stored.write_bytes(stored.read_bytes()[:-40] + bytes(40))  # the file damaged on disk
    with pytest.raises(StoreError, match="damaged"):
        session.export(tmp_path / "out")


def test_an_image_stored_again_stays_decoded(tmp_path, monkeypatch):
    store = Store(tmp_path)
    image = Image.new("RGB", (16, 16), (10, 120, 10))
    digest = store.put_image(image)
    os.utime(store.image_path(digest), (time.time() - 60, time.time() - 60))
    assert store.put_image(image) == digest  # a no-op turn's output: the same file, marked as just used
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded again"))
    assert store.load_image(digest).getpixel((0, 0)) == (10, 120, 10)


def test_a_sessions_summary_counts_every_turn_branches_included(tmp_path):
    session = EditSession(store=tmp_path)
    session.edit(Image.new("RGB", (20, 20), "navy"), "make it brighter")
    session.edit(None, "flip it")
    session.edit(None, "rotate it left", from_source=True)  # a branch: the listing counts it too
    summary = session._store.turns_summary(session.id)
    assert summary.count == 3 and summary.first_instruction == "make it brighter"
    assert summary.last_created == max(turn.created for turn in session.turn_records())
    empty = session._store.turns_summary("no-such-session")
    assert (empty.count, empty.first_instruction, empty.last_created) == (0, None, None)


def test_reads_in_one_moment_do_not_see_a_deletion_made_meanwhile(tmp_path):
    """An export read the session, its turns and their visits one after another: another process's deletion in
    between wrote a session line naming turns the export lacked, and the zip would not import."""
    from edit_agent import EditSession

    session = EditSession(store=tmp_path / "store")
    session.edit(Image.new("RGB", (8, 8), (10, 20, 30)), "flip it")
    reader, deleter = Store(tmp_path / "store"), Store(tmp_path / "store")
    with reader.one_moment():
        record = reader.get_session(session.id)
        deleter_thread = threading.Thread(target=deleter.delete_session, args=(session.id,))
        deleter_thread.start()  # another process's deletion: it commits while the reads go on
        deleter_thread.join(timeout=30)
        assert [turn.id for turn in reader.turns(session.id)] == [record.head]
    assert not reader.has_session(session.id)  # seen once the moment is over


def test_a_cut_off_source_image_is_the_stores_damage_at_the_next_turn(tmp_path, monkeypatch):
    """The source is opened without decoding it; a file cut short must still be told as the store's damage, not as a
    failure of whatever reads its pixels later."""
    from edit_agent import EditSession, decoded_images
    from edit_agent.errors import StoreError

    monkeypatch.setattr(decoded_images, "_shared", decoded_images.DecodedImages(max_bytes=0))  # as for a 40 MP photo
    session = EditSession(store=tmp_path / "store")
    session.edit(Image.new("RGB", (300, 300), "teal"), "make it warmer")
    session.edit(None, "make it cooler")
    source = Store(tmp_path / "store").image_path(session.turn_records()[0].input_hash)
    source.write_bytes(source.read_bytes()[:-40])
    with pytest.raises(StoreError, match="cannot be read .*cut off.*the store is damaged"):
        session.edit(None, "make it warmer")


def test_the_sdk_does_not_load_pandas_and_pandas_still_imports_after(tmp_path):
    # sqlite-utils would import pandas (and pyarrow) for one column type the store never writes: about 70 MB
    # and most of a script's start-up. A user's own later ``import pandas`` must still work.
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from edit_agent import EditSession
        session = EditSession()
        session.edit(np.full((16, 16, 3), 90, np.uint8), "make it brighter")
        loaded = "pandas" in sys.modules
        import pandas
        print(loaded, pandas.DataFrame({"a": [1]}).shape)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "EDIT_AGENT_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False (1, 1)"


def test_the_store_works_when_pandas_was_imported_first(tmp_path):
    script = "import pandas, numpy as np\nfrom edit_agent import EditSession\n" \
             "print(EditSession().edit(np.full((16, 16, 3), 90, np.uint8), 'make it brighter').changed)"
    env = {**os.environ, "PYTHONPATH": str(REPO), "EDIT_AGENT_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr
