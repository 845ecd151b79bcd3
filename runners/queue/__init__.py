"""The overnight queue on Ray Jobs: the driver (`driver.py`) and the Ray it submits to (`ray_head.py`).

Its state lives in MLflow (`tracker/queue_items.py`, `tracker/queue_sessions.py`); its decisions
are pure functions (`tracker/queue_plan.py`).
"""
