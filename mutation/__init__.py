"""The project's mutation testing: the verdict over mutmut's results, and the rule-removal check."""
