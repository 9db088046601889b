"""The lineage store: every candidate a campaign proposes, how it scored, and where it came from.

`ArchiveWriter` is the campaign loop's handle; `ArchiveReader` serves everything else (the CLI,
reports, exports) and can read while a campaign writes. `archive.lineage` is the networkx view.
"""

from archive.errors import ArchiveError
from archive.reasons import reason_key
from archive.records import (
    Campaign,
    Evaluation,
    EvaluationResult,
    HeldOut,
    Iteration,
    ModelCall,
    ModelUsage,
    NewProgram,
    Program,
    PromptUse,
    PromptVariant,
    RecordedCall,
    Summary,
)
from archive.schema import SCHEMA_VERSION, STATUSES
from archive.store import ARCHIVE_FILE, ArchiveReader, ArchiveWriter, archive_path, code_hash

__all__ = [
    "ARCHIVE_FILE",
    "SCHEMA_VERSION",
    "STATUSES",
    "ArchiveError",
    "ArchiveReader",
    "ArchiveWriter",
    "Campaign",
    "Evaluation",
    "EvaluationResult",
    "HeldOut",
    "Iteration",
    "ModelCall",
    "ModelUsage",
    "NewProgram",
    "Program",
    "PromptUse",
    "PromptVariant",
    "RecordedCall",
    "Summary",
    "archive_path",
    "code_hash",
    "reason_key",
]
