"""The training loop: Trainer (one step, telemetry), the epoch loop, histograms, samples, critic."""
