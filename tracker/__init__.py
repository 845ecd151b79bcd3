"""idealoop's tracker: the only package that talks to MLflow.

Ideas, their estimate revisions, stage-run lifecycle and the telemetry writer all
live here, so the storage layout has one home (see docs/architecture.md).
Import the submodules you need; this package stays import-light on purpose
(MLflow takes ~1 s to import).
"""
