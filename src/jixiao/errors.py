"""User-facing errors: one clear line (file, what is wrong, what to do) and a distinct exit code.

Raise these from anywhere; the CLI prints `error.line()` on stderr and exits with `exit_code`,
never a traceback. Codes are stable: scripts may branch on them.
"""

from __future__ import annotations


class JixiaoError(Exception):
    exit_code = 1
    reason = "failed"
    hint = "see `jixiao --help`"

    def __init__(self, file: str | None, reason: str | None = None, hint: str | None = None):
        self.file = file
        if reason is not None:
            self.reason = reason
        if hint is not None:
            self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}{self.reason} — {self.hint}"


class FileMissing(JixiaoError):
    exit_code = 3
    reason = "file or folder does not exist"
    hint = "check the path"


class NotAPdf(JixiaoError):
    exit_code = 4
    reason = "not a PDF file"
    hint = "pass a PDF (the file does not start with %PDF)"


class CorruptPdf(JixiaoError):
    exit_code = 5
    reason = "PDF is damaged or truncated and cannot be read"
    hint = "re-download or re-export the file"


class EncryptedPdf(JixiaoError):
    exit_code = 6
    reason = "PDF is encrypted with a password"
    hint = "decrypt it first, e.g. `qpdf --decrypt --password=... in.pdf out.pdf`"


class EmptyPdf(JixiaoError):
    exit_code = 7
    reason = "PDF has no pages"
    hint = "check that the export produced content"


class NoFormFound(JixiaoError):
    exit_code = 8
    reason = "no 项目支出绩效自评表 found in this PDF"
    hint = (
        "check that the file holds a project self-evaluation form "
        "(`jixiao inspect` shows what was found)"
    )


class TooManyPages(JixiaoError):
    exit_code = 9
    reason = "PDF has more pages than allowed"
    hint = "raise --max-pages or split the file"


class ConfigError(JixiaoError):
    exit_code = 11
    reason = "invalid configuration"


class LLMUnavailable(JixiaoError):
    exit_code = 12
    reason = "the LLM endpoint cannot be used"
    hint = "run `jixiao llm check`, or use --extractor layout"


class InvalidInput(JixiaoError):
    exit_code = 13
    reason = "invalid input file"


# A batch in which some inputs failed while others were processed.
EXIT_PARTIAL_FAILURE = 10
