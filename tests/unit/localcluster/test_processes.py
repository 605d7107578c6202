import sys

from shiplane.localcluster import processes


def test_spawn_then_stop_by_pid(tmp_path):
    proc = processes.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], log=tmp_path / "s.log")
    assert processes.alive(proc)
    assert processes.stop([proc], grace=5) == {"sleeper": "stopped"}
    assert not processes.alive(proc)


def test_process_ignoring_sigterm_is_killed(tmp_path):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = processes.spawn("stubborn", [sys.executable, "-c", code], log=tmp_path / "s.log")
    for _ in range(100):  # wait until the handler is installed
        if "up" in (tmp_path / "s.log").read_text():
            break
        import time

        time.sleep(0.05)
    assert processes.stop([proc], grace=0.5) == {"stubborn": "killed"}
    assert not processes.alive(proc)


def test_a_reused_pid_is_not_mistaken_for_ours(tmp_path):
    proc = processes.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], log=tmp_path / "s.log")
    impostor = processes.Proc("sleeper", proc.pid, proc.start_ticks + 1, proc.log)
    assert not processes.alive(impostor)
    assert processes.stop([impostor]) == {"sleeper": "not running"}  # never signalled
    assert processes.alive(proc)
    processes.stop([proc])


def test_free_ports_are_distinct():
    ports = processes.free_ports(6)
    assert len(set(ports)) == 6 and all(p > 0 for p in ports)
