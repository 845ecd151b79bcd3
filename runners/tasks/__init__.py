"""Tasks: the Task interface and loader (`base`), per-kind defaults (`kinds`), built-ins by name."""
