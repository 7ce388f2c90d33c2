"""Sessions as one zip: export_zip / import_zip, the CLI's .zip names, and zips that are not downloads."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from PIL import Image

from edit_agent import EditSession
from edit_agent.archives import MAX_EXPORT_FILE_BYTES, unpack_session_archive
from edit_agent.cli import main
from edit_agent.errors import EditAgentError, InvalidArgumentError, InvalidExportError
from edit_agent.store import Store


@pytest.fixture
def session(tmp_path: Path) -> EditSession:
    session = EditSession(store=tmp_path / "store")
    session.edit(Image.new("RGB", (24, 16), "navy"), "make it brighter")
    session.edit(None, "rotate it 90 degrees")
    return session


@pytest.fixture
def archive(tmp_path: Path, session: EditSession) -> Path:
    return session.export_zip(tmp_path / "download.zip")


def rezip(source: Path, target: Path, rename=lambda name: name, extra: dict[str, bytes] | None = None,
          compression: int = zipfile.ZIP_STORED) -> Path:
    """``source``'s members under new names, plus ``extra`` members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compression) as new:
        for info in old.infolist():
            new.writestr(rename(info.filename), old.read(info))
        for name, data in (extra or {}).items():
            new.writestr(name, data)
    return target


def with_settings(source: Path, target: Path, settings: dict[str, str]) -> Path:
    """``source``'s export with its session line's settings replaced by ``settings``."""
    import json

    lines = zipfile.ZipFile(source).read("session.jsonl").decode().splitlines()
    header = {**json.loads(lines[0]), "settings": settings}
    return rezip(source, target, rename=lambda name: "x" if name == "session.jsonl" else name,
                 extra={"session.jsonl": "\n".join([json.dumps(header), *lines[1:]]).encode()})


def history(session: EditSession) -> list[str]:
    return [turn.instruction for turn in session.history]


def test_a_zip_export_imports_back_with_its_history_and_images(tmp_path, session, archive):
    assert zipfile.ZipFile(archive).namelist()[0] == "session.jsonl"
    copy = EditSession.import_zip(archive, store=tmp_path / "other")
    assert copy.id == session.id and history(copy) == history(session)
    assert copy.head.image.tobytes() == session.head.image.tobytes()
    again = EditSession.import_zip(archive, store=tmp_path / "other")  # the same store: fresh ids
    assert again.id != session.id and history(again) == history(session)


def test_a_zip_of_the_export_folder_itself_and_with_extra_files_imports(tmp_path, session, archive):
    nested = rezip(archive, tmp_path / "nested.zip", rename=lambda name: f"my-session/{name}",
                   extra={"__MACOSX/my-session/._session.jsonl": b"junk", "my-session/.DS_Store": b"junk"})
    assert history(EditSession.import_zip(nested, store=tmp_path / "other")) == history(session)


def test_member_names_never_choose_where_files_are_written(tmp_path, archive):
    # The export itself sits under "../", and its images under "..\\images" (a Windows zip): names are built here.
    hostile = rezip(archive, tmp_path / "hostile.zip",
                    rename=lambda name: "../" + name if name == "session.jsonl" else "..\\" + name.replace("/", "\\"))
    unpacked = unpack_session_archive(hostile, tmp_path / "inside")
    assert unpacked == tmp_path / "inside" / "session" and len(list((unpacked / "images").glob("*.png"))) >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["download.zip", "hostile.zip", "inside", "store"]
    assert len(EditSession.import_zip(hostile, store=tmp_path / "other").history) == 2


@pytest.mark.parametrize("case, match", [
    ("text", "is not a zip file"),
    ("cut short", "is an incomplete zip"),
    ("no export", "holds no session.jsonl"),
    ("two exports", "more than one session.jsonl"),
    ("damaged", "is damaged or packed in a way this cannot read"),
])
def test_a_zip_that_is_no_good_download_is_refused_and_stores_nothing(tmp_path, archive, case, match):
    path = tmp_path / f"{case}.zip"
    if case == "text":
        path.write_text("not a zip")
    elif case == "cut short":  # a download stopped before its end
        path.write_bytes(archive.read_bytes()[:len(archive.read_bytes()) // 2])
    elif case == "no export":
        rezip(archive, path, rename=lambda name: name.replace("session.jsonl", "notes.jsonl"))
    elif case == "two exports":
        rezip(archive, path, extra={"copy/session.jsonl": zipfile.ZipFile(archive).read("session.jsonl")})
    else:  # one image's bytes flipped inside the zip: its CRC no longer matches
        data = bytearray(archive.read_bytes())
        offset = data.index(b"IDAT") + 8
        data[offset:offset + 16] = bytes(16)
        path.write_bytes(bytes(data))
    with pytest.raises(InvalidExportError, match=match):
        EditSession.import_zip(path, store=tmp_path / "other")
    assert not (tmp_path / "other").exists()  # not even the store is made


def test_a_zip_whose_records_nest_too_deeply_to_read_is_refused_as_such_not_as_damaged(tmp_path, archive):
    lines = zipfile.ZipFile(archive).read("session.jsonl").decode().splitlines()
    lines[1] = lines[1].replace('"extra": {', '"extra": {"x": ' + "[" * 100_000 + "]" * 100_000 + ", ", 1)
    path = rezip(archive, tmp_path / "deep.zip", rename=lambda name: "x" if name == "session.jsonl" else name,
                 extra={"session.jsonl": "\n".join(lines).encode()})
    with pytest.raises(InvalidExportError, match="deep.zip: session.jsonl, line 2: its JSON nests too deeply to read"):
        EditSession.import_zip(path, store=tmp_path / "other")


def test_a_zip_that_unpacks_past_the_limit_is_refused_before_anything_is_written(tmp_path, archive):
    with pytest.raises(InvalidExportError, match=r"unpacks to [\d,]+ bytes, over the 1,000 bytes allowed"):
        unpack_session_archive(archive, tmp_path / "unpacked", max_bytes=1000)
    assert not (tmp_path / "unpacked").exists()


def test_an_encrypted_zip_is_refused_with_a_clear_message(tmp_path, archive):
    locked = tmp_path / "locked.zip"
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(locked, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
    data = bytearray(locked.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + flag_offset] |= 0x1
            start += 4
    locked.write_bytes(bytes(data))
    with pytest.raises(InvalidExportError, match="encrypted"):
        EditSession.import_zip(locked, store=tmp_path / "other")


def test_a_zip_export_gets_the_usual_file_permissions(tmp_path, session):
    import os
    import stat

    old_mask = os.umask(0o022)
    try:
        archive = session.export_zip(tmp_path / "shared.zip")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o644  # others may read it, as with any file the user saves
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".partial")] == []


def test_export_zip_replaces_an_earlier_zip_but_never_another_file(tmp_path, session, archive):
    session.edit(None, "make it warmer")
    assert len(history(EditSession.import_zip(session.export_zip(archive), store=tmp_path / "a"))) == 3
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    other_zip = tmp_path / "holiday-photos.zip"  # a zip, but no export: a .docx is one too
    with zipfile.ZipFile(other_zip, "w") as photos:
        photos.writestr("beach.jpg", b"...")
    someone_elses = EditSession(store=tmp_path / "theirs")
    someone_elses.edit(Image.new("RGB", (16, 16), "teal"), "make it brighter")
    their_download = someone_elses.export_zip(tmp_path / "their-download.zip")
    for taken in (notes, other_zip, their_download):
        before = taken.read_bytes()
        with pytest.raises(InvalidArgumentError, match="exists and is not an export of this session"):
            session.export_zip(taken)
        assert taken.read_bytes() == before
    assert zipfile.is_zipfile(session.export_zip(tmp_path / "new" / "folder" / "s.zip"))  # folders made, as export()
    with pytest.raises(InvalidArgumentError, match="not a file"):
        EditSession.import_zip(tmp_path, store=tmp_path / "b")


def test_the_cli_exports_to_a_zip_name_and_imports_a_zip(tmp_path, session, capsys):
    store = str(tmp_path / "store")
    target = tmp_path / "out" / "s.zip"
    target.parent.mkdir()
    assert main(["sessions", "export", session.id[:8], str(target), "--store", store]) == 0
    assert f"to {target}" in capsys.readouterr().out and zipfile.is_zipfile(target)
    assert main(["sessions", "import", str(target), "--store", str(tmp_path / "other")]) == 0
    assert capsys.readouterr().out.startswith(f"imported as session {session.id}")
    photos = tmp_path / "photos.zip"
    with zipfile.ZipFile(photos, "w") as packed:
        packed.writestr("beach.png", b"...")
    assert main(["sessions", "import", str(photos), "--store", str(tmp_path / "none")]) == 2
    assert "holds no session.jsonl" in capsys.readouterr().err and not (tmp_path / "none").exists()
    (tmp_path / "bad.zip").write_text("not a zip")
    assert main(["sessions", "import", str(tmp_path / "bad.zip"), "--store", str(tmp_path / "none")]) == 2
    assert "bad.zip is not a zip file" in capsys.readouterr().err and not (tmp_path / "none").exists()


def test_only_the_images_the_records_name_are_unpacked_and_each_must_be_in_the_zip(tmp_path, archive):
    names = zipfile.ZipFile(archive).namelist()
    bulky = rezip(archive, tmp_path / "bulky.zip", extra={f"images/{'0' * 64}.png": bytes(50_000_000)})
    folder = unpack_session_archive(bulky, tmp_path / "unpacked", max_bytes=10_000_000)  # the 50 MB is not counted
    assert sorted(path.name for path in (folder / "images").iterdir()) == sorted(n[7:] for n in names if n != "session.jsonl")
    missing = names[-1]
    lacking = rezip(archive, tmp_path / "lacking.zip", rename=lambda name: "dropped/x" if name == missing else name)
    store = Store(tmp_path / "has-them-all")
    EditSession.import_zip(archive, store=store)  # the store holds every image already: still refused
    with pytest.raises(InvalidExportError, match=f"lacking.zip lacks {missing}, which its session.jsonl names"):
        EditSession.import_zip(lacking, store=store)


def test_a_huge_or_unreadable_session_file_is_refused_before_it_is_read(tmp_path, archive):
    huge = tmp_path / "huge.zip"
    with zipfile.ZipFile(huge, "w", zipfile.ZIP_DEFLATED) as packed:
        packed.writestr("session.jsonl", b"\n" * (MAX_EXPORT_FILE_BYTES + 1))  # a 33 MB file, a 33 KB zip
    with pytest.raises(InvalidExportError, match="session.jsonl is 32.0 MiB, over the 32 MiB"):
        unpack_session_archive(huge, tmp_path / "unpacked")
    deflated = rezip(archive, tmp_path / "deflated.zip", compression=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(deflated) as packed:
        start = packed.getinfo("session.jsonl").header_offset + 30 + len("session.jsonl")
    data = bytearray(deflated.read_bytes())
    data[start:start + 40] = bytes(b ^ 0x5A for b in data[start:start + 40])  # its deflate stream garbled
    deflated.write_bytes(bytes(data))
    with pytest.raises(InvalidExportError, match="deflated.zip is damaged"):
        EditSession.import_zip(deflated, store=tmp_path / "other")


def test_import_errors_name_the_zip_and_its_member_not_a_temporary_folder(tmp_path, archive):
    text = zipfile.ZipFile(archive).read("session.jsonl").replace(b'"kind": "turn"', b'"kind": "note"', 1)
    broken = rezip(archive, tmp_path / "broken.zip", rename=lambda name: "x" if name == "session.jsonl" else name,
                   extra={"session.jsonl": text})
    with pytest.raises(InvalidExportError) as refused:
        EditSession.import_zip(broken, store=tmp_path / "other")
    assert str(refused.value).startswith(f"{broken}: session.jsonl: every line after the first must be a turn line")
    assert "edit-agent-import" not in str(refused.value)


def test_a_refused_import_leaves_no_image_in_the_store(tmp_path, session, archive):
    names = zipfile.ZipFile(archive).namelist()
    last = sorted(n for n in names if n.startswith("images/"))[-1]
    damaged = rezip(archive, tmp_path / "damaged.zip", rename=lambda name: "x" if name == last else name,
                    extra={last: b"\x89PNG\r\n\x1a\n not really"})
    with pytest.raises(EditAgentError):
        EditSession.import_zip(damaged, store=tmp_path / "fresh" / "deep")
    assert not (tmp_path / "fresh").exists()  # no empty store either, nor the folders made for it
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(damaged) as opened:
        opened.extractall(unpacked)
    with pytest.raises(EditAgentError):
        EditSession.import_folder(unpacked, store=tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_an_import_into_a_new_store_on_a_full_disk_leaves_no_store_behind(tmp_path, archive, monkeypatch):
    import sqlite3

    def full_disk(self):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "_prepare", full_disk)  # after images/ and the database file were made
    with pytest.raises(EditAgentError, match="The disk is full"):
        EditSession.import_zip(archive, store=tmp_path / "fresh" / "store")
    assert not (tmp_path / "fresh").exists()


def test_an_export_whose_settings_name_no_backends_is_refused(tmp_path, archive):
    bare = with_settings(archive, tmp_path / "bare.zip", {})
    with pytest.raises(InvalidExportError, match="settings must name its reasoner and editor"):
        EditSession.import_zip(bare, store=tmp_path / "other")


def test_an_image_that_would_unpack_past_what_a_store_keeps_is_refused_from_the_zips_headers(tmp_path, archive):
    """A zip bomb: a few megabytes that inflate to over the 1 GiB a stored image may take. Nothing is unpacked."""
    from edit_agent.images import STORED_LIMITS

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive) as old, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as new:
        images = [info for info in old.infolist() if info.filename.startswith("images/")]
        for info in old.infolist():
            if info is not images[0]:
                new.writestr(info.filename, old.read(info))
        with new.open(images[0].filename, "w", force_zip64=True) as member:
            zeros = bytes(64 * 2**20)
            for _ in range(STORED_LIMITS.max_bytes // len(zeros)):
                member.write(zeros)
            member.write(b"\0")
    assert bomb.stat().st_size < 8 * 2**20
    with pytest.raises(InvalidExportError, match=r"unpacks to 1,024.0 MiB; the limit for an image is 1,024 MiB"):
        EditSession.import_zip(bomb, store=tmp_path / "other")
    assert not (tmp_path / "other").exists()


KILLED_WHILE_IMPORTING = """
import os, sys
import edit_agent.transfer
from edit_agent import EditSession
def killed(*args, **kwargs):
    print(sorted(os.listdir(os.environ["TMPDIR"])), flush=True)
    os._exit(9)  # as SIGKILL, with the zip unpacked: no finally, no clean-up
edit_agent.transfer.import_session = killed
EditSession.import_zip(sys.argv[1], store=sys.argv[2])
"""


def test_what_a_killed_zip_import_unpacked_is_removed_by_the_next_one_and_a_live_ones_is_kept(tmp_path, archive,
                                                                                              monkeypatch):
    """A kill runs no clean-up: every killed import or download left its unpacked session in the temp folder."""
    import os
    import subprocess
    import sys
    import tempfile
    import time

    from edit_agent.folders import SCRATCH_GRACE_SECONDS, scratch_folder

    temp = tmp_path / "temp"
    temp.mkdir()
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_IMPORTING, str(archive), str(tmp_path / "s")],
                            env={**os.environ, "TMPDIR": str(temp), "HF_HUB_OFFLINE": "1"}, capture_output=True,
                            text=True, timeout=120, check=False)
    assert killed.returncode == 9, killed.stderr[-2000:]
    [left] = temp.iterdir()
    assert left.name.startswith("edit-agent-import-") and any(left.rglob("*.png"))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    unheld = Path(tempfile.mkdtemp(prefix="edit-agent-import-"))  # as code that takes no lock makes one
    with scratch_folder("edit-agent-import-") as in_use:  # another import, still running
        long_ago = time.time() - SCRATCH_GRACE_SECONDS - 1
        for folder in (left, in_use, unheld):
            os.utime(folder, (long_ago, long_ago))
        imported = EditSession.import_zip(archive, store=tmp_path / "other")
        assert not left.exists() and in_use.is_dir()  # the abandoned one went, the held one stayed
    assert history(imported) == ["make it brighter", "rotate it 90 degrees"]
    assert list(temp.iterdir()) == [unheld]  # not knowing it holds none, the sweep leaves it


def test_an_export_whose_settings_hold_escape_codes_is_refused(tmp_path, archive):
    # `sessions show` prints the editor's name as it is: an escape code would reach the terminal
    forged = with_settings(archive, tmp_path / "forged.zip", {"reasoner": "rules", "editor": "\x1b[33myellow"})
    with pytest.raises(InvalidExportError, match="holds control characters"):
        EditSession.import_zip(forged, store=tmp_path / "other")


def test_an_export_that_cannot_be_written_names_the_path_at_fault_and_leaves_no_partial_file(tmp_path, session):
    target = tmp_path / "export"
    (target / "session.jsonl").mkdir(parents=True)  # in the way of the session file
    with pytest.raises(EditAgentError, match=r"Is a directory \(.*session\.jsonl\)"):
        session.export(target)
    assert sorted(path.name for path in target.iterdir()) == ["images", "session.jsonl"]  # no session.jsonl.partial


KILLED_WHILE_ZIPPING = """
import os, signal, sys, zipfile
from pathlib import Path
from edit_agent import EditSession

def killed(self, *args, **kwargs):  # the first member is written: then the process is killed, as by SIGKILL
    os.kill(os.getpid(), signal.SIGKILL)

zipfile.ZipFile.write = killed
EditSession.open(sys.argv[1], store=sys.argv[2]).export_zip(Path(sys.argv[3]))
"""


def test_a_partial_zip_left_by_a_killed_export_goes_with_the_next_export_to_that_name(tmp_path, session):
    import os
    import subprocess
    import sys
    import time

    target = tmp_path / "download.zip"
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_ZIPPING, session.id, str(tmp_path / "store"),
                             str(target)], check=False, timeout=120)
    assert killed.returncode == -9
    [left] = [path for path in tmp_path.iterdir() if path.name.endswith(".partial")]
    # a live writer's partial (this process's) and one that changed a moment ago are another writer's: they stay
    ours = tmp_path / f".download.zip.{os.getpid()}-0badf00d.partial"
    ours.write_bytes(b"")
    session.export_zip(target)
    assert left.exists()  # written under a minute ago: perhaps a writer on another machine sharing the folder
    a_while_ago = time.time() - 120
    os.utime(left, (a_while_ago, a_while_ago))
    os.utime(ours, (a_while_ago, a_while_ago))
    session.export_zip(target)
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.endswith(".partial")) == [ours.name]
    assert zipfile.ZipFile(target).testzip() is None
