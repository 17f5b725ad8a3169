"""Typed errors, in groups, each carrying its data; every message says what to do next.

Groups: the Hub (``HubError``: repositories, files, network, disk), model files
(``ModelFileError``: GGUF headers, memory, loading), course data (catalog,
quiz, lesson sources), chat and grading. A built-in parent is added where one
fits, so ``except ConnectionError`` or ``except ValueError`` also catches ours.
Data travels as attributes (``repo_id``, ``filename``, ``path``, ...), set
from keyword arguments: ``RepoNotFoundError(message, repo_id="a/b")``.
"""

__all__ = [
    "OssllmError",
    "InvalidArgumentError",
    # the Hub
    "HubError",
    "RepoNotFoundError",
    "GatedRepoError",
    "FileNotInRepoError",
    "OfflineNotCachedError",
    "HubUnavailableError",
    "DownloadInterruptedError",
    "NotEnoughDiskError",
    "HubFallbackWarning",
    # model files
    "ModelFileError",
    "NotGGUFError",
    "ModelTooLargeError",
    "ModelLoadError",
    # course data
    "UnknownModelError",
    "QuizFormatError",
    "CatalogError",
    "UnknownLicenceError",
    "LessonSourceError",
    "CourseFolderError",
    "ReleaseError",
    # chat and grading
    "ChatServerError",
    "PromptTooLongError",
    "ChatError",
    "ChatSettingError",
    "ContextFullError",
    "TranscriptError",
    "TranscriptFolderError",
    "LabTranscriptError",
    "GradingError",
    "SandboxUnavailableError",
    "FeedbackLeakError",
]


class OssllmError(Exception):
    """Base class for every error the course helpers raise on purpose.

    Keyword arguments become attributes, so the data that made the error
    (a repository id, a path, a size) can be read without parsing the message.
    """

    def __init__(self, message: str = "", **data):
        super().__init__(message)
        for name, value in data.items():
            setattr(self, name, value)

    def __str__(self) -> str:
        # OSError parents format their own (errno, filename) text: ours is the message, always.
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(OssllmError, ValueError):
    """An argument out of range or of the wrong type; attributes ``argument`` and ``value``."""


# ---------------------------------------------------------------- the Hub


class HubError(OssllmError):
    """Something between this machine and the Hugging Face Hub; attributes ``repo_id``, ``filename`` where known."""

    repo_id: str | None = None
    filename: str | None = None


class RepoNotFoundError(HubError, LookupError):
    """The Hub has no repository by that id (or it is private)."""


class GatedRepoError(HubError, PermissionError):
    """The repository needs its licence accepted and a token."""


class FileNotInRepoError(HubError, LookupError):
    """The repository (or the catalog entry) has no such file, quant or revision."""


class OfflineNotCachedError(HubError, ConnectionError):
    """No network (or offline mode) and the file is not in the cache."""


class HubUnavailableError(HubError, ConnectionError):
    """The Hub (or a proxy in front of it) answered with an error and nothing cached can stand in; ``status``."""

    status: int | None = None


class DownloadInterruptedError(HubError, ConnectionError):
    """A transfer broke off; running the same call again resumes it."""


class NotEnoughDiskError(HubError, OSError):
    """The download would not fit on the disk; attributes ``need``, ``free`` (bytes) and ``path``."""


class HubFallbackWarning(UserWarning):
    """The Hub could not be asked, so a cached copy was used; the message says how to stay offline."""


# ---------------------------------------------------------------- model files


class ModelFileError(OssllmError):
    """A model file that cannot be read or run; attribute ``path`` where known."""

    path: str | None = None


class NotGGUFError(ModelFileError, ValueError):
    """The file is not a GGUF file, or it is truncated or corrupt."""


class ModelTooLargeError(ModelFileError, MemoryError):
    """Loading the model would need more memory than this machine has; ``needed`` and ``available`` bytes."""


class ModelLoadError(ModelFileError, RuntimeError):
    """llama.cpp could not load a file whose header reads fine."""


# ---------------------------------------------------------------- course data


class UnknownModelError(OssllmError, LookupError):
    """A model key that is not in the course catalog; attribute ``key``."""


class QuizFormatError(OssllmError, ValueError):
    """A quiz or lab data file does not match its schema."""


class CatalogError(OssllmError, ValueError):
    """The catalog data file is malformed: fix ossllm_helpers/data/catalog.json."""


class UnknownLicenceError(OssllmError, ValueError):
    """A licence id that the catalog's licence table does not know."""


class CourseFolderError(OssllmError, FileNotFoundError):
    """No course folder (nbgrader_config.py beside source/) where a command needs one."""


class ReleaseError(OssllmError, RuntimeError):
    """nbgrader could not generate an assignment's student version; attribute ``assignment``."""


class LessonSourceError(OssllmError, ValueError):
    """A lesson's text source cannot be built into its notebook."""

    def __init__(self, path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}. Fix the text source (the .md beside the notebook), then run ./course release.")


# ---------------------------------------------------------------- chat and grading


class ChatError(OssllmError):
    """A conversation (Chat or a lab) could not go on; the message says what to do next."""


class ChatSettingError(ChatError, ValueError):
    """A chat setting of the wrong type or out of range."""

    def __init__(self, name: str, value, expected: str, hint: str = ""):
        self.name, self.value, self.expected = name, value, expected
        super().__init__(f"{name} must be {expected} (got {value!r})." + (f" {hint}" if hint else ""))


class ChatServerError(ChatError):
    """The chat server could not be reached, or answered with an error."""


class PromptTooLongError(ChatError, ValueError):
    """The system prompt and the new message alone do not fit in the context window."""


class ContextFullError(ChatError):
    """The conversation filled the model's context window to the last token."""

    def __init__(self, n_ctx: int, detail: str = ""):
        self.n_ctx, self.detail = n_ctx, detail
        super().__init__(
            f"The conversation filled the model's context window ({n_ctx} tokens) before the reply ended"
            + (f" ({detail})" if detail else "")
            + ". Start afresh with chat.reset(), lower max_tokens, or create the Chat with a larger n_ctx."
        )


class TranscriptError(ChatError, ValueError):
    """A saved transcript that cannot be read back: not JSON, or fields of the wrong type."""

    def __init__(self, path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path} is not a usable chat transcript: {problem}. Save one with chat.save(path), or start a new Chat.")


class TranscriptFolderError(ChatError, FileNotFoundError):
    """Saving a transcript into a folder that does not exist."""

    def __init__(self, folder):
        self.folder = str(folder)
        super().__init__(f"Cannot save there: the folder {folder} does not exist. Create it first (Path(...).mkdir(parents=True)), or save somewhere else.")


class LabTranscriptError(ChatError, LookupError):
    """No usable lab transcript of a lesson: missing, unreadable, or another lesson's; ``path``, ``lesson``."""

    def __init__(self, path, lesson: str, problem: str):
        self.path, self.lesson, self.problem = str(path), lesson, problem
        super().__init__(f"{problem} Run the lab in the {lesson} notebook (it saves the conversation beside the "
                         "notebook), then run this cell again.")


class GradingError(OssllmError):
    """A grading step could not run at all (not one student's problem: those go in the report)."""


class SandboxUnavailableError(GradingError, RuntimeError):
    """No sandbox for students' code on this machine (bubblewrap missing, namespaces off); attribute ``reason``."""


class FeedbackLeakError(GradingError, RuntimeError):
    """A feedback page would show a hidden-test line (the answer key); attributes ``student``, ``notebook``, ``leaks``."""
