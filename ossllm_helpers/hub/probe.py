"""Is the Hub reachable? One short probe per endpoint and process, so offline is known in a second.

``huggingface_hub`` alone finds out that the network is absent by trying:
about 25 s of retries and a long traceback per call. Here one HEAD request
goes to the Hub endpoint, with no retries, through huggingface_hub's own HTTP
client (so proxies and certificates are the ones downloads use). Any HTTP
answer, even an error, means the network is there; no answer within
``HUB_PROBE_TIMEOUT`` seconds (DNS included) means offline, and the answer is
kept for the rest of the process. ``online(refresh=True)`` asks again.
"""

import threading
import time

from ..constants import HUB_PROBE_TIMEOUT

__all__ = ["endpoint", "offline_reason", "is_offline", "online", "forget"]

# endpoint -> None (it answered) or why it counts as offline
_answers: dict[str, str | None] = {}
_lock = threading.Lock()


def endpoint() -> str:
    """The Hub endpoint huggingface_hub talks to (HF_ENDPOINT, read at its import)."""
    from huggingface_hub import constants  # deferred: huggingface_hub takes a while to import

    return constants.ENDPOINT


def _offline_mode() -> bool:
    from huggingface_hub import constants

    check = getattr(constants, "is_offline_mode", None)
    return bool(check()) if callable(check) else bool(constants.HF_HUB_OFFLINE)


def _ask(url: str, box: list) -> None:
    from huggingface_hub import get_session

    try:
        # HEAD: no body; no redirects followed; an HTTP error status still proves the network works.
        get_session().head(url, timeout=HUB_PROBE_TIMEOUT, follow_redirects=False)
        box.append(None)
    except Exception as exc:  # any failure to get an answer is the finding, whatever the HTTP stack raised
        box.append(f"{type(exc).__name__}: {exc}".strip())


def _probe(url: str) -> str | None:
    box: list = []
    # In a thread, so a DNS look-up that hangs (which no HTTP timeout covers) cannot hold the caller.
    worker = threading.Thread(target=_ask, args=(url, box), name="ossllm-hub-probe", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(HUB_PROBE_TIMEOUT + 0.5)
    if box and box[0] is None:
        return None
    waited = time.monotonic() - started
    detail = box[0] if box else f"no answer within {waited:.1f} s"
    return f"the Hub ({url}) could not be reached ({detail})"


def offline_reason(*, refresh: bool = False) -> str | None:
    """None when the Hub can be asked; else why not (offline mode, or no answer to the probe)."""
    if _offline_mode():
        return "offline mode is on (HF_HUB_OFFLINE=1)"
    url = endpoint()
    with _lock:
        if refresh or url not in _answers:
            _answers[url] = _probe(url)
        return _answers[url]


def is_offline(*, refresh: bool = False) -> bool:
    """True in offline mode (HF_HUB_OFFLINE) or when the Hub did not answer this process's one short probe."""
    return offline_reason(refresh=refresh) is not None


def online(*, refresh: bool = False) -> bool:
    """True when the Hub answers; the first call probes it (about a second at most), later calls remember."""
    return not is_offline(refresh=refresh)


def forget() -> None:
    """Drop the remembered answers (the next call probes again)."""
    with _lock:
        _answers.clear()
