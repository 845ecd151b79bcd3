"""idealoop's runners: tasks, the stage ladder, the training loop and the CLI."""
