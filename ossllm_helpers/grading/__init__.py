"""The instructor's grading workflow: release, collect, autograde in a sandbox, feedback, export.

    python -m ossllm_helpers grade <step>      (./course grade <step>)

One module per step: ``paths`` (the course folder and the grading state), ``collect``
(release and collect), ``plan`` (what runs where), ``sandbox`` and ``kernel`` (the
sandboxed kernel), ``harness`` (inside it), ``runner`` (running plans), ``scoring``
(answers and hidden tests in the trusted grader), ``autograde``, ``feedback``, ``export``,
``items`` and ``items_report`` (the item analysis) and ``cli``. Names are imported lazily:
``import ossllm_helpers.grading.kernel`` inside a sandbox loads neither nbgrader nor zmq.

Importing this package makes ``ossllm_helpers.grading`` name the package, where notebooks
call ``oh.grading()``, the package's "is nbgrader running me?" function. So the package is
callable, and calling it is calling that function: ``oh.grading()`` works before and after.
"""

import importlib
import sys
import types

from .. import grading as _grading_function  # still the function: the package is bound only after this runs

if isinstance(_grading_function, types.ModuleType):  # pragma: no cover - a reload: the function is kept below
    _grading_function = getattr(_grading_function, "_grading_function")

_EXPORTS = {
    "ASSIGNMENT": "paths", "PASS_PERCENT": "paths", "Course": "paths", "Problems": "paths", "one_line": "paths",
    "Limits": "sandbox", "Sandbox": "sandbox",
    "analyse_source": "plan", "build_plan": "plan", "strip_hidden_tests": "plan",
    "Runner": "pool",
    "release": "collect", "import_folder": "collect", "read_roster": "collect",
    "SandboxExecute": "steps", "default_limits": "autograde",
    "HideAnswers": "feedback", "find_leaks": "feedback",
    "question_scores": "export",
    "run_all": "cli", "main": "cli", "add_parser": "cli",
}
# The steps themselves share their modules' names (grading.autograde.autograde, grading.export.export, ...):
# they are not exported here, where the name would hide the module.

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ossllm_helpers.grading' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


class _CallablePackage(types.ModuleType):
    def __call__(self) -> bool:
        """True while nbgrader executes the notebook: load no model, download nothing."""
        return _grading_function()


sys.modules[__name__].__class__ = _CallablePackage
