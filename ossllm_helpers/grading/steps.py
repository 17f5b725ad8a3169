"""nbgrader's autograde pipeline with steps of ours: copied cells, sandboxed kernels, no live HTML.

A copied cell stays gradable, kernels run sandboxed, and students' Markdown carries no
live HTML. One more change only saves time: nbgrader checks every cell's metadata against its schema
with ``jsonschema.validate``, which re-checks the schema itself on every call; the same
checks, with the schema compiled once, take a tenth of the time.
"""

import traceback

import jsonschema
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader import preprocessors as nbp
from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

from ..errors import GradingError
from .autograde import ACTIVE

__all__ = ["ForgetEmptyIds", "SandboxExecute", "DefuseMarkup", "CheckCellMetadata", "SANITIZE", "AUTOGRADE"]
NbGraderPreprocessor = nbp.NbGraderPreprocessor


class ForgetEmptyIds(NbGraderPreprocessor):
    """After nbgrader's DeduplicateIds: a copied cell's emptied nbgrader metadata is removed, not left empty.

    DeduplicateIds leaves ``{}``, which CheckCellMetadata then rejects as an outdated schema, so one
    copy-pasted answer cell made the whole notebook ungradable.
    """

    enabled = True

    def preprocess_cell(self, cell, resources, index):
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


class SandboxExecute(NbGraderPreprocessor):
    """nbgrader's Execute, replaced: the notebook runs in a sandboxed kernel, hidden tests run in the grader."""

    enabled = True

    def preprocess(self, nb, resources):
        if not ACTIVE:
            raise GradingError("SandboxExecute runs inside the grading workflow: python -m ossllm_helpers grade autograde")
        return ACTIVE[-1].execute(nb, resources)


class DefuseMarkup(NbGraderPreprocessor):
    """A student's own Markdown and raw cells cannot carry live HTML into formgrader or a feedback page.

    In Markdown, ``<`` becomes ``&lt;``, which renders as the same character (a ``<script>``
    shows as text); a raw cell loses the format that would paste it into HTML as is. Locked
    cells come from the source notebook and stay as they are.
    """

    enabled = True

    def preprocess_cell(self, cell, resources, index):
        if cell.metadata.get("nbgrader", {}).get("locked"):
            return cell, resources
        if cell.cell_type == "markdown" and "<" in cell.source:
            cell.source = cell.source.replace("<", "&lt;")
        elif cell.cell_type == "raw":
            for key in ("format", "raw_mimetype"):
                cell.metadata.pop(key, None)
        return cell, resources


class _CompiledSchema(BaseMetadataValidator):
    """BaseMetadataValidator.validate_cell, with one compiled validator per schema."""

    _validators = {}

    def validate_cell(self, cell) -> None:
        if "nbgrader" not in cell.metadata:
            return
        version = cell.metadata["nbgrader"].get("schema_version", 0)
        if version < self.schema_version:
            raise SchemaTooOldError(f"Outdated schema version: {version} (expected {self.schema_version})",
                                    version, self.schema_version)
        if version > self.schema_version:
            raise SchemaTooNewError(f"Schema version is too new: {version} (expected {self.schema_version})",
                                    version, self.schema_version)
        key = id(type(self)), self.schema_version
        if key not in self._validators:
            cls = jsonschema.validators.validator_for(self.schema)
            cls.check_schema(self.schema)
            self._validators[key] = cls(self.schema)
        error = jsonschema.exceptions.best_match(self._validators[key].iter_errors(cell.metadata["nbgrader"]))
        if error is not None:
            raise error


class _Validator(MetadataValidatorV3, _CompiledSchema):
    """nbgrader's current metadata validator; its base checks come from _CompiledSchema (see the MRO)."""


class CheckCellMetadata(nbp.CheckCellMetadata):
    """nbgrader's CheckCellMetadata with the schema compiled once."""

    def preprocess(self, nb, resources):
        try:
            _Validator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            raise ValidationError("Notebook failed to validate; the nbgrader metadata may be corrupted.")
        return nb, resources


# nbgrader's own lists (nbgrader 0.9.6, converters/autograde.py): ForgetEmptyIds and DefuseMarkup added, Execute replaced
SANITIZE = [nbp.ClearOutput, nbp.DeduplicateIds, ForgetEmptyIds, nbp.OverwriteKernelspec, nbp.OverwriteCells,
            CheckCellMetadata]
AUTOGRADE = [SandboxExecute, DefuseMarkup, nbp.IgnorePattern, ClearMetadataPreprocessor, nbp.LimitOutput, nbp.SaveAutoGrades,
             nbp.AssignLatePenalties, CheckCellMetadata]
