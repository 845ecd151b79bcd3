"""Built-in tasks, looked up by name (`--task digits`)."""
