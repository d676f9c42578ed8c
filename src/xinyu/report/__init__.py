"""The bilingual experiment report of a run: ``xinyu report runs/<name>``."""

from xinyu.report.experiment import write_report

__all__ = ["write_report"]
