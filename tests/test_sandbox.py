"""Confinement as root on Linux (``grader/sandbox/``): processes, memory and files of a worker.

Each test attacks the way a motivated student would, from inside a worker, and checks from outside
that nothing escaped: no process survives its worker, the limits hold for the worker and all its
descendants together, and the worker sees and leaves nothing beyond its own folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader.grade import Options, grade
from grader.load import load_all
from grader.outcomes import WorkerLost
from grader.properties import CATALOGUE, catalogue
from grader.sandbox.cgroups import Cgroups
from grader.workermanage import Limits, Worker

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "submissions" / "hostile"
catalogue()

pytestmark = pytest.mark.skipif(not (sys.platform == "linux" and os.geteuid() == 0), reason="the sandbox's guarantees need root on Linux here")
LIMITS = Limits(call_seconds=5, cell_seconds=20, total_seconds=60, memory_bytes=2 << 30)


def processes_running(*argv: str) -> list[int]:
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f.read() == wanted:
                    with open(f"/proc/{entry}/stat", "rb") as s:
                        if s.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                            found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def grade_file(path: Path, ids: list[str]):
    (submission,) = load_all([str(path)])
    return grade(submission, Options(profile="ci", properties=[CATALOGUE[i] for i in ids], limits=LIMITS))


def verdicts(result) -> dict[str, tuple[str, str]]:
    return {v.property: (v.kind, v.message.render("en") if v.message else "") for v in result.verdicts}


@pytest.fixture
def worker():
    started: list[Worker] = []

    def start(limits: Limits = LIMITS) -> Worker:
        w = Worker(None, limits=limits, seed=0, device="cpu")
        started.append(w)
        w.start()
        return w

    yield start
    for w in started:
        w.stop()


def run(w: Worker, source: str, seconds: float = 20) -> dict:
    return w.request("run_module", {"source": source, "filename": "attack.py", "seconds": seconds}, doing="attack.py", seconds=seconds + 3)


def test_the_worker_records_what_confines_it(worker):
    isolation = worker().isolation
    assert isolation["namespaces"] == ["pid", "mount", "network", "ipc", "uts"]
    assert isolation["filesystem"] == "private root"
    assert isolation["user"] == "a user of its own"
    assert isolation["process_cap"] == 256


def test_a_process_made_a_child_of_the_fork_server_dies_with_the_worker():
    for pid in processes_running("sleep", "1005"):
        os.kill(pid, 9)
    result = grade_file(HOSTILE / "escape_clone_parent.py", ["relu_matches_definition"])
    assert verdicts(result)["relu_matches_definition"][0] == "passed"
    assert processes_running("sleep", "1005") == []


def test_processes_are_capped_per_worker_and_none_survives():
    result = grade_file(HOSTILE / "many_processes.py", ["relu_matches_definition", "step_matches_definition"])
    found = verdicts(result)
    assert found["relu_matches_definition"][0] == "passed"
    kind, message = found["step_matches_definition"]
    assert kind == "error", message
    count = int(message.split("started ")[1].split(" processes")[0])
    assert 0 < count < 256
    assert processes_running("sleep", "1006") == []


def memory_cgroups_here() -> bool:
    probe = Cgroups.create(f"propgrade-probe-{os.getpid()}", 1 << 30, 64) or Cgroups()
    probe.remove()
    return "memory" in probe.limits


def test_memory_is_capped_for_the_worker_and_its_children_together(worker):
    if not memory_cgroups_here():
        pytest.skip("no writable memory cgroup here: the watchdog sums the worker user's processes instead")
    w = worker(Limits(call_seconds=20, cell_seconds=20, total_seconds=60, memory_bytes=768 << 20))
    source = """
import os, subprocess, sys, time
HOLD = "import sys, time; b = bytearray(300 << 20); b[::4096] = b'x' * len(b[::4096]); open(sys.argv[1], 'w').close(); time.sleep(30)"
for i in range(6):
    subprocess.Popen([sys.executable, "-c", HOLD, f"held-{i}"])
time.sleep(4)
print(sum(name.startswith("held-") for name in os.listdir(".")))
"""
    try:
        run(w, source)
    except WorkerLost as lost:
        assert lost.reason == "memory"
        return
    held = int(w.stop().split()[-1])
    assert held * 300 < 768, f"{held} children held 300 MiB each under a 768 MiB cap"


def test_files_outside_the_folder_do_not_survive_and_the_machine_is_not_visible(tmp_path):
    classmate = tmp_path / "class" / "classmate.py"
    classmate.parent.mkdir()
    classmate.write_text("SECRET = 'classmate'\n")
    probes = [str(classmate), str(classmate.parent), str(ROOT / "grader"), str(ROOT / "reference"), str(ROOT / "submissions"), str(ROOT / ".git"), tempfile.gettempdir() + "/propgrade-was-here"]
    submission = tmp_path / "class" / "reads_the_machine.py"
    submission.write_text((HOSTILE / "reads_the_machine.py").read_text().replace("PROBES: list = []", f"PROBES: list = {probes!r}"))
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        Path(folder, "propgrade-was-here").unlink(missing_ok=True)
    result = grade_file(submission, ["relu_matches_definition", "step_matches_definition"])
    found = verdicts(result)
    assert found["relu_matches_definition"][0] == "passed"
    assert found["step_matches_definition"][1].endswith("found nothing"), found["step_matches_definition"][1]
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not Path(folder, "propgrade-was-here").exists(), folder


def test_a_file_cannot_grow_past_the_cap(worker):
    w = worker()
    reply = run(w, "f = open('big', 'wb')\nf.seek(300 << 20)\nf.write(b'x')\nf.close()\n")
    assert not reply["ok"] and "File too large" in reply["error"]["message"]


def test_nothing_of_a_worker_is_left_after_stop(worker):
    w = worker()
    run(w, "import subprocess\nsubprocess.Popen(['/usr/bin/setsid', '/bin/sleep', '1008'], env={}, start_new_session=True)\nimport time\ntime.sleep(0.3)\n")
    assert processes_running("/bin/sleep", "1008")
    cgroups = list(w.cgroups.dirs.values()) if w.cgroups else []
    root = w.root
    w.stop()
    assert processes_running("/bin/sleep", "1008") == []
    assert not root.exists()
    assert not any(os.path.exists(d) for d in cgroups)


@pytest.fixture
def reachable_dir():
    """A folder an ordinary user can reach (pytest's own are under a root-only folder)."""
    path = Path(tempfile.mkdtemp(prefix="propgrade-test-", dir="/tmp"))
    yield path
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def in_new_namespaces(before, inside) -> str:
    """Run ``before()`` in a forked child, then ``enter`` and, in the namespace's init, ``inside()``;
    returns what ``inside`` returned, or the error either raised. No student code runs here."""
    from grader.sandbox import namespaces

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            user_namespace = before()
            namespaces.enter([], user_namespace=user_namespace)
            if os.fork() == 0:
                os.write(write_end, inside().encode())
                os._exit(0)
            os._exit(os.waitstatus_to_exitcode(os.wait()[1]))
        except BaseException as error:  # noqa: BLE001 - said to the test, which fails on it
            os.write(write_end, f"error: {error}".encode())
            os._exit(1)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as f:
        return f.read()


def test_without_root_a_user_namespace_builds_the_same_root(reachable_dir):
    """The path a student's Linux laptop or a CI runner takes: an ordinary user, who may create user namespaces."""
    from grader.sandbox import namespaces

    tmp_path = reachable_dir
    work, new_root = tmp_path / "work", tmp_path / "root"
    work.mkdir()
    new_root.mkdir()
    (work / "mine.txt").write_text("mine")
    tmp_path.chmod(0o755)
    for path in (work, new_root, tmp_path):
        os.chown(path, 65534, 65534)
    def as_an_ordinary_user():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        namespaces.libc().prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE, as an ordinary user's process is (setuid cleared it)
        return True

    def look_around():
        namespaces.build_root(str(new_root), str(work), [], [], [])
        namespaces.drop_capabilities()
        report = [open("mine.txt").read(), ",".join(sorted(os.listdir("/"))), str(os.path.exists(str(ROOT / "grader")))]
        try:
            namespaces.mount("tmpfs", "/tmp", "tmpfs", 0)
            report.append("mounted")
        except OSError:
            report.append("no mount")
        return "|".join(report)

    report = in_new_namespaces(as_an_ordinary_user, look_around)
    assert report.count("|") == 3, report
    mine, listing, grader_visible, mounting = report.split("|")
    assert mine == "mine"
    assert set(listing.split(",")) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "sys", "tmp", "usr", "var"}
    assert grader_visible == "False"
    assert mounting == "no mount"


def test_a_worker_cannot_fill_the_disk(worker):
    w = worker()
    reply = run(w, "n = 0\ntry:\n    while n < 100:\n        with open(f'fill-{n}', 'wb') as f:\n            f.write(bytes(64 << 20))\n        n += 1\nexcept OSError as error:\n    print(n, error)\n")
    assert reply["ok"]
    assert w.isolation["folder_cap"]
    written, _, error = w.stop().strip().partition(" ")
    assert int(written) * 64 << 20 <= w.isolation["folder_cap"]
    assert "No space left on device" in error


def test_folders_of_a_killed_grading_process_are_unmounted_by_the_next(reachable_dir):
    from grader.sandbox import scratch

    dead, alive = reachable_dir / "propgrade-dead", reachable_dir / "propgrade-alive"
    for path, owner in ((dead, "999999999 1"), (alive, scratch._identity(os.getpid()))):
        path.mkdir()
        scratch.namespaces.mount("tmpfs", str(path), "tmpfs", 0, "size=1m")
        (path / scratch.OWNER).write_text(owner)
    try:
        assert scratch.remove_stale() >= 1
        assert not dead.exists()
        assert (alive / scratch.OWNER).exists()
    finally:
        scratch.unmount_scratch(str(alive))


def test_the_clean_reader_outlives_the_worker_it_read_for(worker):
    """It is the controller's child, started while a worker lived: ending the worker must not take it for an orphan."""
    from grader.clean_reader import CleanReader

    w = worker()
    reader = CleanReader.shared()
    w.stop()
    assert reader.process.poll() is None
    assert CleanReader.shared() is reader


def test_python_kept_under_tmp_stays_visible(reachable_dir):
    """A CI checkout's venv under /tmp: the private /tmp must not cover it (lazy imports such as torch.save's failed)."""
    from grader.sandbox import namespaces

    package, work, new_root = reachable_dir / "venv" / "lib", reachable_dir / "work", reachable_dir / "root"
    for path in (package, work, new_root):
        path.mkdir(parents=True)
    (package / "lazy.py").write_text("X = 1\n")
    def find_the_package():
        namespaces.build_root(str(new_root), str(work), [str(reachable_dir / "venv")], [], [])
        return str(os.path.exists(package / "lazy.py"))

    assert in_new_namespaces(lambda: False, find_the_package) == "True"


def test_empty_cgroups_of_dead_controllers_are_removed_and_live_ones_kept():
    """A controller killed (say, by the OOM killer) never removes its worker's cgroups: the next worker's
    creation sweeps empty ones past an age no live worker's cgroups reach empty; busy ones are left."""
    import subprocess
    import sys
    import time

    from grader.sandbox.cgroups import remove_stale

    stale = Cgroups.create(f"propgrade-stale-{os.getpid()}", 1 << 30, 64)
    if stale is None:
        pytest.skip("no writable cgroup here")
    live = Cgroups.create(f"propgrade-live-{os.getpid()}", 1 << 30, 64)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for procs in live.procs_files():
            with open(procs, "w") as f:
                f.write(str(sleeper.pid))
        time.sleep(0.05)
        for directory in stale.dirs.values():
            remove_stale(os.path.dirname(directory), older_than=0.01)
        assert not any(os.path.exists(d) for d in stale.dirs.values())
        assert all(os.path.exists(d) for d in live.dirs.values())
        fresh = Cgroups.create(f"propgrade-fresh-{os.getpid()}", 1 << 30, 64)
        for directory in fresh.dirs.values():
            remove_stale(os.path.dirname(directory))  # the default age: a just-made empty cgroup is no stale one
        assert all(os.path.exists(d) for d in fresh.dirs.values())
        fresh.remove()
    finally:
        sleeper.kill()
        sleeper.wait()
        live.remove()
