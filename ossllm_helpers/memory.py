"""How much memory this machine can give a model now: the one probe doctor and Chat both use.

In a container, psutil reports the host's memory; the cgroup knows the real
limit. Both cgroup versions are read: v2 (``memory.max``, ``memory.current``)
and v1 (``memory.limit_in_bytes``, ``memory.usage_in_bytes``). Page cache the
kernel can drop (``inactive_file``) counts as room, as it does for psutil.
"""

from dataclasses import dataclass
from pathlib import Path

__all__ = ["MemoryState", "memory_state", "available_memory", "cgroup_room"]

_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a huge number near 2**63


@dataclass(frozen=True)
class MemoryState:
    """Bytes of memory: the total this process may use, what is available now, and whether a cgroup sets them."""

    total: int
    available: int
    cgroup_limited: bool


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _inactive_file(stat: Path) -> int:
    try:
        fields = stat.read_text().split()
    except OSError:
        return 0
    for name in ("inactive_file", "total_inactive_file"):
        if name in fields:
            try:
                return int(fields[fields.index(name) + 1])
            except (ValueError, IndexError):
                return 0
    return 0


def _cgroup_dirs(root: Path) -> list[tuple[Path, str, str, str]]:
    """Candidate (folder, limit file, usage file, stat file), own cgroup first, then the mount's root."""
    v2 = ("memory.max", "memory.current", "memory.stat")
    v1 = ("memory.limit_in_bytes", "memory.usage_in_bytes", "memory.stat")
    found = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines() if root == Path("/sys/fs/cgroup") else []
    except OSError:
        lines = []
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        rel = rel.lstrip("/")
        if controllers == "":
            found.append((root / rel, *v2))
        elif "memory" in controllers.split(","):
            found.append((root / "memory" / rel, *v1))
    found += [(root, *v2), (root / "memory", *v1)]
    return found


def cgroup_room(root: str = "/sys/fs/cgroup") -> tuple[int, int] | None:
    """(limit, room left) in bytes under this process's cgroup memory limit; None where no limit is set or known."""
    for folder, limit_file, usage_file, stat_file in _cgroup_dirs(Path(root)):
        limit = _read_int(folder / limit_file)
        if limit is None or limit >= _UNLIMITED:
            continue
        used = _read_int(folder / usage_file)
        if used is None:
            continue
        return limit, max(limit - used + _inactive_file(folder / stat_file), 0)
    return None


def memory_state() -> MemoryState:
    """Total and available memory for this process, within any cgroup limit."""
    import psutil  # deferred: a compiled extension, needed only when memory is asked about

    vm = psutil.virtual_memory()
    room = cgroup_room()
    if room is None:
        return MemoryState(total=vm.total, available=vm.available, cgroup_limited=False)
    limit, left = room
    return MemoryState(total=min(vm.total, limit), available=min(vm.available, left), cgroup_limited=limit < vm.total)


def available_memory() -> int:
    """Bytes of memory available to a new model now, within any cgroup limit."""
    return memory_state().available
