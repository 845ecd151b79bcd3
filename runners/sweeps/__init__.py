"""Ray Tune sweeps of an idea: driver, trainable, cluster connection, progress, search space."""
