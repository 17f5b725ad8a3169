"""Typed errors. Every message says what to do next."""

__all__ = [
    "OssllmError",
    "RepoNotFoundError",
    "GatedRepoError",
    "FileNotInRepoError",
    "OfflineNotCachedError",
    "NotEnoughDiskError",
    "NotGGUFError",
    "ModelTooLargeError",
    "UnknownModelError",
    "QuizFormatError",
    "CatalogError",
    "UnknownLicenceError",
    "ChatServerError",
    "PromptTooLongError",
    "GradingError",
    "LessonSourceError",
]


class OssllmError(Exception):
    """Base class for every error the course helpers raise on purpose."""


class RepoNotFoundError(OssllmError):
    """The Hub has no repository by that id (or it is private)."""


class GatedRepoError(OssllmError):
    """The repository needs its licence accepted and a token."""


class FileNotInRepoError(OssllmError):
    """The repository exists but has no such file or quant."""


class OfflineNotCachedError(OssllmError):
    """No network (or offline mode) and the file is not in the cache."""


class NotEnoughDiskError(OssllmError):
    """The download would not fit on the disk."""


class NotGGUFError(OssllmError):
    """The file is not a GGUF file, or it is truncated or corrupt."""


class ModelTooLargeError(OssllmError):
    """Loading the model would need more memory than this machine has."""


class UnknownModelError(OssllmError):
    """A model key that is not in the course catalog."""


class QuizFormatError(OssllmError):
    """A quiz or lab data file does not match its schema."""


class CatalogError(OssllmError, ValueError):
    """The catalog data file is malformed: fix ossllm_helpers/data/catalog.json."""


class UnknownLicenceError(OssllmError, ValueError):
    """A licence id that the catalog's licence table does not know."""


class ChatServerError(OssllmError):
    """The chat server could not be reached, or answered with an error."""


class PromptTooLongError(OssllmError):
    """The system prompt and the new message alone do not fit in the context window."""


class GradingError(OssllmError):
    """A grading step could not run at all (not one student's problem: those go in the report)."""


class LessonSourceError(OssllmError, ValueError):
    """A lesson's text source cannot be built into its notebook."""

    def __init__(self, path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}. Fix the text source (the .md beside the notebook), then run ./course release.")
