"""Reporting a grading run: per-learner tables and feedback (:mod:`.learner`), the class report
(:mod:`.classreport`)."""
