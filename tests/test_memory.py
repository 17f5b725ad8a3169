"""The one memory probe: cgroup v1 and v2 limits, and the same figure for doctor and the estimate."""

from ossllm_helpers import doctor, gguf, memory


def test_no_cgroup_files_means_no_known_limit(tmp_path):
    assert memory.cgroup_room(str(tmp_path)) is None
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "memory.current").write_text("5\n")
    assert memory.cgroup_room(str(tmp_path)) is None


def test_cgroup_v2_limit_counts_droppable_page_cache(tmp_path):
    (tmp_path / "memory.max").write_text("1000000\n")
    (tmp_path / "memory.current").write_text("600000\n")
    (tmp_path / "memory.stat").write_text("anon 400000\ninactive_file 100000\nactive_file 5\n")
    assert memory.cgroup_room(str(tmp_path)) == (1000000, 500000)


def test_cgroup_v1_limit(tmp_path):
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text("2000000\n")
    (v1 / "memory.usage_in_bytes").write_text("1500000\n")
    (v1 / "memory.stat").write_text("cache 9\ntotal_inactive_file 250000\n")
    assert memory.cgroup_room(str(tmp_path)) == (2000000, 750000)
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert memory.cgroup_room(str(tmp_path)) is None


def test_memory_state_takes_the_smaller_of_host_and_cgroup(monkeypatch):
    monkeypatch.setattr(memory, "cgroup_room", lambda: (3 * 2**30, 1 * 2**30))
    state = memory.memory_state()
    assert state.cgroup_limited and state.total == 3 * 2**30 and state.available <= 2**30
    assert memory.available_memory() == state.available


def test_doctor_and_the_estimate_read_the_same_probe(monkeypatch):
    """In a container, doctor must not say 'fits' where Chat's estimate refuses: both read memory.memory_state."""
    monkeypatch.setattr(memory, "cgroup_room", lambda: (2 * 2**30, 512 * 2**20))
    row = next(r for r in doctor.checks(network=False) if r[0] == "memory")
    assert row[1] is False and "0.5 GiB available" in row[2] and "container" in row[2]
    assert gguf.available_memory() == memory.available_memory() <= 512 * 2**20
