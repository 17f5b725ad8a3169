"""The local backend: a GGUF model run by llama-cpp-python on this machine, its layers on a GPU where they fit."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ...errors import ContextFullError, ModelTooLargeError, OssllmError
from ...gguf import estimate_memory, inspect
from ...models import fetch
from ..quirks import Quirks, quirks_for
from . import Backend, Sampling

__all__ = ["LocalBackend", "GpuProbe", "gpu_layers", "probe_gpu", "default_threads", "base_transcript"]

_BASE_STOP = ["User:"]  # a base model writes the next "User:" turn itself; stop there
GPU_RESERVE = 512 * 2**20  # left free on the GPU: the driver's and llama.cpp's own buffers


def default_threads() -> int:
    """Half the logical CPUs, at least one: what Chat uses unless told otherwise."""
    return max(1, (os.cpu_count() or 2) // 2)


def base_transcript(messages: list[dict]) -> str:
    """The plain-text prompt a base model continues: system text, then User:/Assistant: turns."""
    lines = []
    for m in messages:
        if m["role"] == "system":
            lines.append(m["content"].strip() + "\n")
        else:
            lines.append(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content'].strip()}")
    return "\n".join(lines) + "\nAssistant:"


# ---------------------------------------------------------------- the GPU


@dataclass(frozen=True)
class GpuProbe:
    """What this machine offers a model: whether llama-cpp-python was built for a GPU, and its free memory."""

    supported: bool
    free: int | None  # bytes; None where it cannot be measured
    unified: bool = False  # Apple silicon: the GPU shares main memory


def probe_gpu() -> GpuProbe:
    """Ask llama-cpp-python whether it can offload, and the driver how much GPU memory is free."""
    import llama_cpp

    if not llama_cpp.llama_supports_gpu_offload():
        return GpuProbe(False, None)
    if sys.platform == "darwin":
        return GpuProbe(True, None, unified=True)
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=5).stdout
            return GpuProbe(True, int(out.split()[0]) * 2**20)
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            pass
    return GpuProbe(True, None)


def gpu_layers(needs: int, n_layer: int, probe: GpuProbe) -> int:
    """How many layers to put on the GPU: -1 (all) when the model fits there, as many as fit, or 0.

    ``needs`` is the course's estimate for the whole model at this context. With
    unified memory (Apple silicon) the main-memory check already covered it, so
    everything goes to the GPU. Where free GPU memory cannot be measured, nothing
    is offloaded: a guess that is too large fails to load.
    """
    if not probe.supported or n_layer <= 0:
        return 0
    if probe.unified:
        return -1
    if probe.free is None:
        return 0
    room = probe.free - GPU_RESERVE
    if needs <= room:
        return -1
    per_layer = needs / n_layer  # weights, cache and scratch spread over the layers
    return max(0, min(n_layer, int(room // per_layer)))


# ---------------------------------------------------------------- loading quietly


@contextlib.contextmanager
def _quiet_stderr():
    """Catch what llama.cpp writes while loading; yield a function that returns it.

    It writes both from C, to the process's file descriptor 2 (a notebook shows that
    in the server's terminal), and through llama-cpp-python's log callback, to
    sys.stderr (a notebook shows that in the cell), so both are redirected.
    """
    caught = io.StringIO()
    with contextlib.redirect_stderr(caught):
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing more to quieten
            yield caught.getvalue
            return
        with tempfile.TemporaryFile() as log:
            os.dup2(log.fileno(), 2)
            try:
                yield lambda: caught.getvalue() + (log.seek(0), log.read().decode(errors="replace"))[1]
            finally:
                os.dup2(saved, 2)
                os.close(saved)


_HEADERS: dict[tuple, object] = {}


def read_header(path: Path):
    """The GGUF header of ``path``, read once per file version (a lab makes new Chats for the same file)."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return inspect(path)  # says what is wrong with the path
    info = _HEADERS.get(key)
    if info is None:
        info = inspect(path)
        if len(_HEADERS) >= 16:
            _HEADERS.clear()
        _HEADERS[key] = info
    return info


# ---------------------------------------------------------------- the backend




class LocalBackend(Backend):
    """A GGUF file (a path, or a catalog key fetched into the Hub cache) run by llama-cpp-python.

    Nothing happens until ``load`` (Chat calls it on the first message): the file
    is found or downloaded (with a progress bar), its memory estimated and
    checked, its layers offloaded to a GPU where one fits them, and the model loaded.
    """

    kind = "local"

    def __init__(self, model: str, *, quant=None, n_ctx=2048, n_threads=None, seed=None, check_memory=True,
                 n_gpu_layers=None, gpu_probe=probe_gpu, loader=None):
        self.model = str(model)
        self.quant = quant
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self.check_memory = check_memory
        self.n_gpu_layers = n_gpu_layers  # None: decided from the estimate and the GPU probe
        self.gpu_offload = 0  # what load() decided
        self._gpu_probe = gpu_probe
        self._loader = loader  # llama_cpp.Llama unless a test gives a stand-in
        self._path: Path | None = None
        self._info = None
        self._llm = None
        self._token_counts: dict[str, int] = {}
        self.finish_reason = None

    @property
    def label(self) -> str:
        p = Path(self.model)
        return p.name if p.suffix.lower() == ".gguf" else self.model

    @property
    def path(self) -> Path:
        """The GGUF file: the given path, or the catalog model's file, downloaded into the Hub cache if needed."""
        if self._path is None:
            candidate = Path(self.model).expanduser()
            if candidate.exists() or self.model.lower().endswith(".gguf"):
                self._path = candidate  # inspect() says what is wrong with a bad path
            else:
                self._path = Path(fetch(self.model, quant=self.quant))
        return self._path

    @property
    def info(self):
        if self._info is None:
            self._info = read_header(self.path)
        return self._info

    @property
    def is_base(self) -> bool:
        return not self.info.has_chat_template

    @property
    def quirks(self) -> Quirks:
        return quirks_for(self.info.architecture, self.label)

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def estimate(self):
        # llama-cpp-python keeps a full-size cache on sliding-window layers (its
        # prefix reuse needs it), so the estimate does too.
        return estimate_memory(self.info, n_ctx=self.n_ctx, swa_full=True)

    def load(self) -> None:
        if self._llm is not None:
            return
        estimate = self.estimate()
        if self.check_memory and not estimate.fits:
            raise ModelTooLargeError(
                f"Not loading {self.label}: {estimate}. To run it, choose a smaller quantisation"
                " (quant='Q4_K_M' or 'Q3_K_M'), a smaller context (n_ctx=1024), or a smaller model"
                " (`ossllm models` lists them); close other programs; or pass check_memory=False"
                " to try anyway."
            )
        layers = self.n_gpu_layers
        if layers is None:
            layers = gpu_layers(estimate.total, self.info.block_count or 0, self._gpu_probe())
        self.gpu_offload = layers
        threads = self.n_threads or default_threads()
        kwargs = dict(model_path=str(self.path), n_ctx=self.n_ctx, verbose=False, n_threads=threads,
                      n_threads_batch=threads, n_gpu_layers=layers)
        if self.seed is not None:
            kwargs["seed"] = self.seed
        loader = self._loader
        if loader is None:
            import llama_cpp  # deferred: loading the library takes a moment

            loader = llama_cpp.Llama
        with _quiet_stderr() as log:  # llama.cpp prints its loading report to stderr
            try:
                self._llm = loader(**kwargs)
            except Exception as exc:
                said = " ".join(log().strip().splitlines()[-3:])
                if not estimate.fits:  # check_memory=False, and the estimate was right
                    raise ModelTooLargeError(
                        f"llama.cpp could not load {self.label} ({exc}): as estimated, it does not fit."
                        f" {estimate}. Lower n_ctx, choose a smaller quantisation or model, or close other programs."
                    ) from None
                raise OssllmError(
                    f"llama.cpp could not load {self.path}: {exc}. {said} A newer model"
                    " architecture may need a newer llama-cpp-python (`pip install -U llama-cpp-python`);"
                    " otherwise download the file again."
                ) from None

    def count(self, text: str) -> int:
        n = self._token_counts.get(text)
        if n is None:
            n = len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
            if len(self._token_counts) > 4096:
                self._token_counts.clear()
            self._token_counts[text] = n
        return n

    def stream(self, messages: list[dict], sampling: Sampling):
        self.load()
        self.finish_reason = None
        kw = dict(temperature=sampling["temperature"], top_p=sampling["top_p"],
                  max_tokens=sampling["max_tokens"], stream=True)
        if sampling.get("seed") is not None:
            # Reusing the cached prefix of the last prompt is faster, but a reply then
            # depends on how the history was computed (token by token while generating,
            # or in one batch): the numbers differ in the last bits and a greedy choice
            # can flip. With a seed, every reply is computed from the whole prompt.
            self._llm.reset()
            kw["seed"] = sampling["seed"]
        return self._pieces(messages, kw)

    def _pieces(self, messages, kw):
        try:
            if self.is_base:
                chunks = self._llm.create_completion(base_transcript(messages), stop=_BASE_STOP, **kw)
                leading = True
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    text = choice["text"]
                    if leading:  # the reply follows "Assistant:" with a space
                        text = text.lstrip()
                        leading = not text
                    self.finish_reason = choice.get("finish_reason") or self.finish_reason
                    yield text
            else:
                for chunk in self._llm.create_chat_completion(messages, **kw):
                    choice = chunk["choices"][0]
                    self.finish_reason = choice.get("finish_reason") or self.finish_reason
                    yield choice["delta"].get("content")
        except (RuntimeError, ValueError) as exc:
            # llama.cpp's "llama_decode returned 1" (no room left in the KV cache) and
            # llama-cpp-python's "Requested tokens exceed context window" say the same thing.
            text = str(exc)
            if "llama_decode" in text or "context window" in text:
                raise ContextFullError(self.n_ctx, text) from None
            raise

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
