"""Time to first token for a class on one server: p50 and p95 as more students ask at once.

Starts llama-cpp-python's OpenAI-compatible server on 127.0.0.1 (or uses --base-url),
then for each number of concurrent sessions runs that many lab-like conversations
through ``Chat`` (class mode), each a few exchanges with realistic reply lengths,
and reports the time from send() to the first piece of each reply.

    python benchmarks/bench_ttft.py                          # SmolLM2-135M-Instruct, 1, 4 and 16 sessions
    python benchmarks/bench_ttft.py --sessions 1 8 --max-tokens 256 --exchanges 2
    python benchmarks/bench_ttft.py --base-url http://127.0.0.1:8000/v1   # a server already running
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ossllm_helpers.chat import Chat  # noqa: E402

SYSTEM = "You are a patient tutor on open-weight language models. Answer in a short paragraph."
QUESTIONS = [
    "What is a KV cache and why does it grow with the context?",
    "Why is token generation limited by memory bandwidth?",
    "What does Q4_K_M mean in a GGUF file name?",
    "When is a 7B model at Q4 better than a 13B model at Q2?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, threads: int, n_ctx: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
           "--interrupt_requests", "False"]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start within 180 s")


def session(url: str, s: int, exchanges: int, max_tokens: int, out: list) -> None:
    chat = Chat(base_url=url, system=SYSTEM, temperature=0.7, seed=s, max_tokens=max_tokens, n_ctx=2048)
    for q in range(exchanges):
        start = time.perf_counter()
        first, tokens = None, 0
        for piece in chat.send(f"{QUESTIONS[(s + q) % len(QUESTIONS)]} (student {s})", stream=True):
            if first is None:
                first = time.perf_counter() - start
            tokens += 1
        out.append((first, time.perf_counter() - start, tokens))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="GGUF path for the server (default: the offline SmolLM2)")
    ap.add_argument("--base-url", default=None, help="use a running OpenAI-compatible server instead")
    ap.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--exchanges", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=256, help="reply length (the lab's default is 256)")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    args = ap.parse_args(argv)
    proc = None
    url = args.base_url
    if url is None:
        model = args.model
        if model is None:
            from ossllm_helpers.pack import install_pack

            model = install_pack(keys=["smollm2-135m-instruct"])["smollm2-135m-instruct"]
        proc, url = start_server(str(model), args.threads, 2048 * 4, Path(tempfile.mkdtemp()) / "server.log")
    try:
        print(f"server      {url} ({'started here' if proc else 'given'}); replies up to {args.max_tokens} tokens,"
              f" {args.exchanges} exchanges a session")
        print(f"machine     {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"\n{'sessions':>8} {'replies':>8} {'TTFT p50':>10} {'TTFT p95':>10} {'reply p50':>10} {'tokens/s all':>13}")
        for n in args.sessions:
            out: list = []
            started = time.perf_counter()
            threads = [threading.Thread(target=session, args=(url, s, args.exchanges, args.max_tokens, out))
                       for s in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
            ttft = [f for f, _, _ in out if f is not None]
            total = [t for _, t, _ in out]
            tokens = sum(k for _, _, k in out)
            print(f"{n:>8} {len(out):>8} {pct(ttft, 50):>9.2f}s {pct(ttft, 95):>9.2f}s "
                  f"{statistics.median(total):>9.2f}s {tokens / wall:>13.1f}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
