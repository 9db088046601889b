"""The one exception type the archive raises for problems a user can fix."""


class ArchiveError(Exception):
    """A problem with an archive file or a request to it, phrased as one line naming the fix.

    The CLI prints these without a traceback, so every message says what is wrong and what
    to do about it.
    """
