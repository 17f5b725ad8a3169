"""One home for the course's facts and settings: defaults, and environment variables parsed once."""

__all__ = ["PASS_PERCENT"]

# The module test's pass mark, in percent of its points (lessons, README and grading read it here).
PASS_PERCENT = 80
