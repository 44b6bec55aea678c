"""The background thread that registers the console and sends its heartbeats.

It wakes on a state change (after a short settle delay that coalesces bursts), on the jittered
periodic beat, or on stop. Failures back off exponentially with jitter; a 404 on a heartbeat
means the API forgot the console, so it registers again. On stop it sends a last heartbeat with
``estado: "inactiva"`` under a short timeout.

Credentials (when the exporter requires tokens): the console registers with its own secret when
it has one (kept in ``.console-secret``), else with the enrollment token ``HEARTBEAT_API_TOKEN``;
a registration answer carrying ``secreto`` replaces the stored secret. Heartbeats carry the
secret. A refused secret (401/403) sends the console back to registration with the enrollment
token, which the exporter accepts only for an id with no stored secret (new, or reset by an
operator with ``heartbeat reset-secret``). Until then each retry is refused; one line says so
when the refusals start, naming the reset command. No credential is ever logged.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable

from consola_wire import STATE_INACTIVA, MetricsEndpoint, protocol
from heartbeat import logs, secret_store
from heartbeat.config import HeartbeatConfig
from heartbeat.payloads import heartbeat_body, registration_body
from heartbeat.state import ConsoleState, StateSnapshot, Telemetry
from heartbeat.system import SystemSampler
from heartbeat.transport import ApiClient, Outcome

#: How long the goodbye waits for the state's lock before using the last state it sent.
GOODBYE_STATE_WAIT_SECONDS = 0.1


class Sender(threading.Thread):
    """One console's sender thread (daemon)."""

    def __init__(
        self,
        config: HeartbeatConfig,
        console_id: str,
        state: ConsoleState,
        telemetry: Telemetry,
        sampler: SystemSampler,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        metricas: MetricsEndpoint | None = None,
    ) -> None:
        super().__init__(name=f"heartbeat-sender-{console_id[:8]}", daemon=True)
        assert config.api_base_url is not None
        self._config = config
        self._console_id = console_id
        self._state = state
        self._telemetry = telemetry
        self._sampler = sampler
        self._rng = rng or random.Random()
        self._clock = clock
        self._wall = wall_clock
        #: Where this console's /metrics answers, sent with every request (None: not served).
        self._metricas = metricas
        self._client = ApiClient(
            config.api_base_url,
            config.timeout_seconds,
            ca_bundle=config.ca_bundle,
            compression=config.compression,
        )
        self._secret: str | None = None
        self._token_hint_given = False
        self._enrollment_refused = False
        self._cond = threading.Condition()
        self._dirty = False
        self._stopping = False
        self._registered = False
        self._ever_registered = False
        self._last_sent: StateSnapshot | None = None

    # -- called from other threads: no I/O, just a flag and a notify --------------------------

    def notify_change(self) -> None:
        """A state change is waiting to be sent."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def request_stop(self) -> None:
        """Ask the thread to send its goodbye and finish."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    # -- the thread ----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._load_secret()
            self._loop()
        finally:
            if self._ever_registered:
                self._goodbye()
            self._client.close()

    def _loop(self) -> None:
        not_before = 0.0
        next_beat = 0.0
        announced = False
        while not self._stopping:
            now = self._clock()
            if now < not_before:
                self._sleep(not_before, wake_on_change=False)
                continue
            if not self._registered:
                if self._register():
                    next_beat = self._clock() + self._jittered(self._config.interval_seconds)
                else:
                    not_before = self._clock() + self._backoff()
                if not announced:  # the seed's order: registered, then started
                    logs.started()
                    announced = True
                continue
            with self._cond:
                dirty = self._dirty
            if not dirty and now < next_beat:
                self._sleep(next_beat, wake_on_change=True)
                continue
            if dirty and self._config.settle_seconds > 0:
                self._sleep(now + self._config.settle_seconds, wake_on_change=False)
                if self._stopping:
                    return
            with self._cond:
                self._dirty = False
            outcome = self._heartbeat()
            if outcome.ok:
                next_beat = self._clock() + self._jittered(self._config.interval_seconds)
            elif outcome.not_found:
                self._unregister()
            else:
                not_before = self._after_failed_beat(outcome)

    def _unregister(self) -> None:
        self._registered = False
        self._telemetry.set_registered(False)

    def _after_failed_beat(self, outcome: Outcome) -> float:
        """Owe a beat; on a refused secret, enroll again (rotating it). When to try next."""
        if outcome.auth_failed:
            self._secret = None
            self._unregister()
            logs.secret_refused(self._config.api_token is not None)
        with self._cond:
            self._dirty = True  # a beat is owed as soon as the backoff allows
        return self._clock() + self._backoff()

    def _sleep(self, until: float, *, wake_on_change: bool) -> None:
        with self._cond:
            self._cond.wait_for(
                lambda: self._stopping or (wake_on_change and self._dirty),
                timeout=max(0.0, until - self._clock()),
            )

    def _jittered(self, seconds: float) -> float:
        ratio = self._config.jitter_ratio
        return seconds * self._rng.uniform(1.0 - ratio, 1.0 + ratio)

    def _backoff(self) -> float:
        streak = max(1, self._telemetry.snapshot().consecutive_failures)
        cap = min(self._config.retry_max_seconds, self._config.interval_seconds)
        base = min(cap, self._config.retry_initial_seconds * 2 ** min(streak - 1, 30))
        # Jitter never pushes a retry past the cap: beats resume within one interval.
        return float(min(cap, base * self._rng.uniform(0.8, 1.2)))

    def _register(self) -> bool:
        snapshot = self._last_sent = self._state.snapshot()
        body = registration_body(
            console_id=self._console_id,
            nombre=self._config.console_name,
            state=snapshot,
            sistema=self._sampler.get().sistema(),
            interval_seconds=self._config.interval_seconds,
            now=self._wall(),
            metricas=self._metricas,
        )
        credential = self._credential()
        outcome = self._post("registrar", protocol.REGISTER_PATH, body, token=credential)
        if not outcome.ok and outcome.auth_failed and self._secret is not None:
            self._secret = None  # refused (rotated elsewhere, database restored): enroll again
            logs.secret_refused(self._config.api_token is not None)
            if self._config.api_token is not None:
                outcome = self._post(
                    "registrar", protocol.REGISTER_PATH, body, token=self._config.api_token
                )
        elif outcome.status == 401 and credential is None and not self._token_hint_given:
            self._token_hint_given = True
            logs.token_required()
        if not outcome.ok:
            return False
        self._enrollment_refused = False
        self._keep_secret(outcome)
        self._registered = self._ever_registered = True
        self._telemetry.set_registered(True)
        logs.registered()
        if snapshot.video_en_proceso or snapshot.ultimo_error:
            self.notify_change()  # the registration body has no room for these
        return True

    def _heartbeat(self) -> Outcome:
        snapshot = self._last_sent = self._state.snapshot()
        body = heartbeat_body(
            snapshot,
            self._sampler.get().sistema(),
            self._config.interval_seconds,
            self._wall(),
            metricas=self._metricas,
        )
        outcome = self._post(
            "heartbeat", protocol.heartbeat_path(self._console_id), body, token=self._secret
        )
        if outcome.ok:
            logs.heartbeat_sent(snapshot.estado, snapshot.video_en_proceso)
        return outcome

    def _goodbye(self) -> None:
        # The main thread may hold the state's lock while the SIGTERM handler, run on it, waits
        # for this goodbye: after a short wait, the state last sent stands in.
        current = self._state.try_snapshot(GOODBYE_STATE_WAIT_SECONDS) or self._last_sent
        if current is None:
            return
        snapshot = dataclasses.replace(current, video_en_proceso=None)
        body = heartbeat_body(
            snapshot,
            self._sampler.get().sistema(),
            self._config.interval_seconds,
            self._wall(),
            estado=STATE_INACTIVA,
            metricas=self._metricas,
        )
        timeout = min(self._config.timeout_seconds, self._config.stop_timeout_seconds * 0.8)
        outcome = self._post(
            "heartbeat",
            protocol.heartbeat_path(self._console_id),
            body,
            timeout=timeout,
            token=self._secret,
        )
        if outcome.ok:
            logs.heartbeat_sent(STATE_INACTIVA, None)

    # -- credentials ---------------------------------------------------------------------------

    def _credential(self) -> str | None:
        """For registration: the console's own secret when it has one, else the enrollment token."""
        return self._secret if self._secret is not None else self._config.api_token

    def _load_secret(self) -> None:
        try:
            self._secret = secret_store.read_secret(self._config.secret_file)
        except secret_store.SecretFileError as exc:
            logs.logger.warning("⚠️  %s; se usará el token de registro", exc)

    def _keep_secret(self, outcome: Outcome) -> None:
        """Adopt (and store) the secret a registration answer issued, if any."""
        issued = outcome.data.get(protocol.KEY_SECRETO) if outcome.data else None
        if not isinstance(issued, str) or not issued or issued == self._secret:
            return
        self._secret = issued
        try:
            secret_store.write_secret(self._config.secret_file, issued)
        except secret_store.SecretFileError as exc:
            logs.logger.warning(
                "⚠️  %s; la consola seguirá con el secreto en memoria y volverá a registrarse "
                "con HEARTBEAT_API_TOKEN al reiniciar",
                exc,
            )

    def _post(
        self,
        endpoint: str,
        path: str,
        body: dict[str, object],
        timeout: float | None = None,
        token: str | None = None,
    ) -> Outcome:
        self._telemetry.attempted(endpoint)
        outcome = self._client.post(path, body, timeout=timeout, token=token)
        if outcome.ok:
            streak = self._telemetry.succeeded()
            if streak:
                logs.recovered(streak)
        else:
            streak = self._telemetry.failed(endpoint, outcome.reason or "other")
            if not self._enrollment_refusal(endpoint, token, outcome):
                logs.send_failed(endpoint, outcome.detail, streak)
        return outcome

    def _enrollment_refusal(self, endpoint: str, token: str | None, outcome: Outcome) -> bool:
        """Whether ``outcome`` refused a registration with the enrollment token (the id is
        enrolled and this console lacks its secret, or the token is wrong); one line says so
        when such refusals start, instead of the generic failure line."""
        api_token = self._config.api_token
        if endpoint != "registrar" or outcome.status != 403 or api_token is None:
            return False
        if token != api_token:
            return False
        if not self._enrollment_refused:
            self._enrollment_refused = True
            logs.enrollment_refused(self._console_id)
        return True
