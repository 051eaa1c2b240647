"""Experiment commands: measurements that take hours, whose results docs/ records (not tests)."""
