"""`idealoop queue start`: run the queued items as Ray jobs until a deadline, then account for each.

Every tick (POLL_S) the driver
1. reads the session and the items from MLflow (the only state: a restarted driver
   continues from there) and beats its heartbeat;
2. asks Ray for each submitted item's job (by its submission id `idealoop-<item>`) and
   records what happened: running, done, failed (reason + log tail), killed;
3. at the deadline, on `queue stop`, or when the GPU-hour budget is spent, stops running
   jobs (Ray sends SIGTERM: the stage ends its run KILLED, then the driver tags the runs
   with the reason, e.g. `deadline`);
4. plans (`tracker/queue_plan.py`: rank order, estimates from history, deadline, budget,
   what fits in the cluster's free CPUs/GPUs) and submits what starts now, each a Ray job
   `idealoop queue exec ITEM` with its CPUs/GPUs as entrypoint resources, started warm
   (`warm.py`: forked from a process that has torch and MLflow imported, ~5 s less per item).
It ends when nothing is queued or running, and stops the local Ray head it started.
Killing the driver leaves the jobs running; the next `queue start` finds them again.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
import time

from runners.queue import bell, ray_head, warm, warm_server
from tracker import queue_items as qi
from tracker import queue_plan as qp
from tracker import queue_sessions as qs
from tracker.queue_report import usage

POLL_S = 2.0
# After an item rang: its process exits, and Ray's job supervisor polls it every 0.1 s.
RUNG_WAIT_S, RUNG_LOOKS = 0.15, 4
STALE_S = 30.0  # a heartbeat older than this (from another host) means its driver is gone
BEAT_S = 5.0  # the driver's heartbeat, well inside STALE_S
LOG_TAIL_LINES = 40
ERROR_MARK = "idealoop: error:"  # the CLI's one line for a failure: the best reason a log holds
# Ray's words for "not now" when a job is submitted (a node's job agent not registered yet, on a
# fresh or loaded head): the item stays queued and is submitted again on a later tick.
BUSY = ("No available agent", "try again later")


def now_ms() -> int:
    return int(time.time() * 1000)


def need_of(item: qi.QueueItem) -> qp.Need:
    """What an item holds while it runs (`QueueItem.held`)."""
    return qp.Need(*item.held)


class Driver:
    """One session's driver: `tick()` until `finished`."""

    def __init__(
        self,
        store,
        session_id: str,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        say=print,
        ship: bool | None = None,
    ):
        """Attach to `address` (else RAY_ADDRESS, else the session's own head if it still answers,
        else a new local head of `num_cpus`/`num_gpus`, None: Ray detects them)."""
        self.store, self.sid = store, session_id
        self.beat_at = -BEAT_S
        folder = os.path.dirname(warm_server.socket_path())
        self.bell = bell.open_bell(os.path.join(folder, f"queue-{session_id[:12]}.bell"))
        self.say = lambda line: say(f"{time.strftime('%H:%M:%S')} {line}")
        self.scores: dict[str, float] = {}
        self.history: dict[tuple, list[float]] = {}
        session = qs.get_session(store, session_id)
        address = address or os.environ.get("RAY_ADDRESS") or ""
        self.head_pid = 0
        if address:  # recorded as the dashboard URL Ray resolved it to: a restart finds it again
            self.client = ray_head.job_client(address)
            where = self.client.get_address()
        elif session.dashboard and ray_head.answers(session.dashboard):
            where, self.head_pid = session.dashboard, session.head_pid
            self.client = ray_head.job_client(where)
        else:
            warm.start_server()  # imports torch & co. while the head starts: items start warm
            where, self.head_pid = ray_head.start_local_head(num_cpus, num_gpus)
            self.client = ray_head.job_client(where)
        # A cluster (any Ray the queue did not start) gets the code with each job.
        self.ship = not self.head_pid if ship is None else ship
        self.capacity = ray_head.capacity(self.client)
        qs.update_session(store, session_id, dashboard=where, head_pid=self.head_pid, capacity=self.capacity)
        self.url, self.size, self.finished = where, (num_cpus, num_gpus), False
        cap = f"{self.capacity['CPU']:g} CPUs, {self.capacity['GPU']:g} GPUs"
        self.say(f"queue: Ray jobs at {where} (its dashboard shows them), {cap}")

    def ray_ok(self) -> bool:
        """Is Ray there? A local head of ours that died (killed by hand, by `ray stop`) is started
        again: the jobs it ran are lost, and the next look records those items failed. A cluster
        that does not answer is waited for."""
        if ray_head.answers(self.url):
            return True
        if self.head_pid and not ray_head.is_ray_head(self.head_pid):
            self.say(f"queue: the local Ray head ({self.head_pid}) is gone; starting a new one")
            self.url, self.head_pid = ray_head.start_local_head(*self.size)
            self.client = ray_head.job_client(self.url)
            self.capacity = ray_head.capacity(self.client)
            qs.update_session(
                self.store, self.sid, dashboard=self.url, head_pid=self.head_pid, capacity=self.capacity
            )
            return True
        self.say(f"queue: Ray does not answer at {self.url}; waiting for it")
        return False

    # -- one tick ----------------------------------------------------------------------------
    def tick(self) -> bool:
        """One look: record what Ray says, stop what must stop, start what fits. The queue is read
        once, and again only after this tick changed it (the driver's own CPU matters on 2 cores).
        True if Ray said something new of a job."""
        if time.monotonic() - self.beat_at >= BEAT_S:  # a store write: not on every quick look
            qs.heartbeat(self.store, self.sid)
            self.beat_at = time.monotonic()
        try:
            return self.ray_ok() and self.look()
        except OSError as exc:  # the dashboard went away mid-look (requests' errors are OSErrors)
            self.say(f"queue: lost Ray mid-look ({first_line(exc)}); trying again")
            return False

    def look(self) -> bool:
        store, now = self.store, now_ms()
        session = qs.get_session(store, self.sid)
        items = qi.list_items(store)
        changed = any([self.reconcile(i) for i in items if i.state in qi.ACTIVE])
        if changed:
            items = qi.list_items(store)
        active = [i for i in items if i.state in qi.ACTIVE]
        queued = [i for i in items if i.state in qi.WAITING]
        why_stop = "stopped" if session.stop_requested else "deadline" if now >= session.until_ms else ""
        if why_stop:
            for item in active:
                self.stop(item, why_stop)
        spent = self.gpu_hours_spent(items, now)
        if session.budget is not None and spent >= session.budget:
            for item in active:
                if item.gpus > 0:
                    self.stop(item, "budget")
        if why_stop != "stopped" and queued and self.start_what_fits(queued, active, session, spent, now):
            items = qi.list_items(store)
            active = [i for i in items if i.state in qi.ACTIVE]
            queued = [i for i in items if i.state in qi.WAITING]
        if not active and (not queued or why_stop == "stopped"):
            self.finish(session, why_stop or "queue empty")
        return changed

    def start_what_fits(self, queued, active, session, spent: float, now: int) -> bool:
        """Skip and submit what the plan says; True if it changed anything."""
        planned = [self.planned(i) for i in queued]
        running = [
            qp.Running(i.id, need_of(i), (i.started_ms or now) + self.minutes(i)[0] * 60_000) for i in active
        ]
        left = None if session.budget is None else session.budget - spent
        decided = qp.plan(now, session.until_ms, qp.order(planned), running, self.capacity, left)
        for item_id, why in decided.skip.items():
            qi.set_state(self.store, item_id, "skipped", why, session=self.sid, ended=now)
            self.say(f"queue: skipped {item_id[:8]}: {why}")
        by_id = {i.id: i for i in queued}
        for item_id in decided.start:
            if not self.submit(by_id[item_id]):
                break  # Ray is not ready for jobs yet: the rest wait for the next tick too
        return bool(decided.skip or decided.start)

    # -- items ------------------------------------------------------------------------------
    def minutes(self, item: qi.QueueItem) -> tuple[float, str]:
        return qs.item_minutes(self.store, item, self.history)

    def planned(self, item: qi.QueueItem) -> qp.Planned:
        from tracker.ideas import get_idea

        if item.idea_id not in self.scores:
            try:
                self.scores[item.idea_id] = get_idea(self.store, item.idea_id)[0].score
            except Exception:  # noqa: BLE001 - a deleted idea ranks last, the item still runs
                self.scores[item.idea_id] = 0.0
        score = self.scores[item.idea_id]
        minutes = self.minutes(item)[0]
        return qp.Planned(item.id, need_of(item), minutes, item.priority, score, item.created_ms)

    def submit(self, item: qi.QueueItem) -> bool:
        """Submit an item's job; False when Ray cannot take jobs yet (the item stays queued)."""
        qi.set_state(self.store, item.id, "submitted", session=self.sid, job=item.job_name)
        need = need_of(item)
        threads = max(1, math.ceil(item.cpus))  # torch uses what the item holds, not every core
        env = {"MLFLOW_TRACKING_URI": self.store.uri, "IDEALOOP_PROJECT": self.store.project}
        env["OMP_NUM_THREADS"] = str(threads)
        if self.bell:
            env[bell.ENV] = self.bell.path
        runtime_env: dict = {"env_vars": env}
        python = "python" if self.ship else shlex.quote(sys.executable)
        if self.ship:
            runtime_env.update(working_dir=str(ray_head.PROJECT_ROOT), excludes=ray_head.EXCLUDES)
        sweep = item.what == "sweep"  # its trials ask Ray for their own resources
        try:
            self.client.submit_job(
                entrypoint=f"{python} -m {warm.__name__} queue exec {item.id}",
                submission_id=item.job_name,
                runtime_env=runtime_env,
                entrypoint_num_cpus=0 if sweep else need.cpus,
                entrypoint_num_gpus=0 if sweep else need.gpus,
                metadata={"idealoop_item": item.id, "idealoop_idea": item.idea_id},
            )
        except RuntimeError as exc:
            if any(m in str(exc) for m in BUSY):  # Ray is not ready for it yet: next tick
                qi.set_state(self.store, item.id, "queued")
                self.say(f"queue: Ray cannot take {item.id[:8]} yet ({first_line(exc)}); trying again")
                return False
            if "already exists" not in str(exc):  # else: submitted before a driver died; adopted
                qi.set_state(self.store, item.id, "failed", f"Ray refused the job: {first_line(exc)}")
                return True
        held = f"{need.cpus:g} CPU {need.gpus:g} GPU"
        self.say(f"queue: started {item.id[:8]} ({item.what} {item.task}, {held})")
        return True

    def reconcile(self, item: qi.QueueItem) -> bool:
        """Record what Ray says of an item's job; True if its state changed."""
        store, now = self.store, now_ms()
        try:
            info = self.client.get_job_info(item.job_name)
        except RuntimeError as exc:
            if "does not exist" not in str(exc):
                raise
            runs = qi.runs_of(store, item.id)  # the runs say how far it got
            if item.state == "submitted" and not runs:  # the driver died before Ray took it
                qi.set_state(store, item.id, "queued")
                return True
            if runs and all(r.info.status == "FINISHED" for r in runs):
                qi.set_state(store, item.id, "done", "completed (Ray lost the job's record)", ended=now)
                return True
            qs.end_item_runs(store, item.id, "killed")
            qi.set_state(store, item.id, "failed", f"Ray has no job {item.job_name} any more", ended=now)
            return True
        status = str(getattr(info.status, "value", info.status))
        started = int(info.start_time or now)
        if status not in ("SUCCEEDED", "FAILED", "STOPPED"):
            if status == "RUNNING" and item.state != "running":
                qi.set_state(store, item.id, "running", started=started)
                return True
            return False
        ended = int(info.end_time or now)
        if status == "SUCCEEDED":
            qi.set_state(store, item.id, "done", "completed", started=started, ended=ended)
        elif status == "STOPPED":
            reason = item.stopping or "stopped outside the queue"
            qs.end_item_runs(store, item.id, item.stopping or "killed")
            qi.set_state(store, item.id, "killed", reason, started=started, ended=ended)
        else:
            tail = self.log_tail(item.job_name)
            lines = [ln for ln in tail.splitlines() if ERROR_MARK in ln]
            reason = lines[-1].split(ERROR_MARK, 1)[1].strip() if lines else (info.message or "failed")
            qi.save_log_tail(store, item.id, tail)
            qi.set_state(store, item.id, "failed", reason, started=started, ended=ended)
        self.say(f"queue: {item.id[:8]} {status.lower()}")
        return True

    def log_tail(self, job: str) -> str:
        try:
            return "\n".join(self.client.get_job_logs(job).splitlines()[-LOG_TAIL_LINES:])
        except Exception as exc:  # noqa: BLE001 - the logs are a courtesy; the reason is not
            return f"(no logs: {first_line(exc)})"

    def stop(self, item: qi.QueueItem, why: str) -> None:
        if item.stopping:
            return
        qi.set_state(self.store, item.id, item.state, stopping=why)
        try:
            self.client.stop_job(item.job_name)
        except RuntimeError:
            pass  # not (yet) known to Ray: the next tick puts it back to queued
        self.say(f"queue: stopping {item.id[:8]} ({why})")

    def gpu_hours_spent(self, items: list[qi.QueueItem], now: int) -> float:
        mine = [i for i in items if i.session == self.sid and i.started_ms]
        return sum(i.held[1] * ((i.ended_ms or now) - i.started_ms) / 3.6e6 for i in mine)

    # -- the end -------------------------------------------------------------------------------
    def finish(self, session: qs.Session, why: str) -> None:
        now = now_ms()
        mine = [i for i in qi.list_items(self.store) if i.session == self.sid]
        qs.log_usage(self.store, self.sid, usage(mine, session.capacity, session.started_ms, now))
        state = "stopped" if why == "stopped" else "finished"
        qs.update_session(self.store, self.sid, state=state, reason=why, ended=now)
        if self.head_pid:
            ray_head.stop_local_head(self.head_pid)
            warm_server.stop_server()  # the items' warm starter on this machine: idle from now on
        if self.bell:
            self.bell.close()
        self.finished = True
        self.say(f"queue: session {self.sid} {state} ({why})")


def run(driver: Driver, poll_s: float = POLL_S) -> None:
    """Tick every `poll_s`, and soon after an item rings the bell (looking again every
    RUNG_WAIT_S until Ray has recorded a change, at most RUNG_LOOKS times)."""
    looks = RUNG_LOOKS
    while not driver.finished:
        changed = driver.tick()
        if driver.finished:
            break
        if not changed and looks < RUNG_LOOKS:
            looks += 1
            time.sleep(RUNG_WAIT_S)
        elif driver.bell is None:
            time.sleep(poll_s)
        elif driver.bell.wait(poll_s):  # an item is ending
            looks = 1
            time.sleep(RUNG_WAIT_S)
        else:
            looks = RUNG_LOOKS


def first_line(exc: BaseException) -> str:
    text = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return text[-1][:300] if text else type(exc).__name__
