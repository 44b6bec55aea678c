"""The seed's log lines, exactly (logger ``heartbeat``)."""

from __future__ import annotations

import logging

logger = logging.getLogger("heartbeat")

RULE = "=" * 80


def banner(console_id: str, api_base_url: str | None, interval_minutes: float) -> None:
    """The start-up banner the seed shows."""
    logger.info("💓 SERVICIO DE HEARTBEAT")
    logger.info(RULE)
    logger.info("📋 Console ID: %s", console_id)
    logger.info("🌐 API Base URL: %s", api_base_url or "(no configurado)")
    logger.info("⏱️  Intervalo: cada %s minuto(s)", f"{interval_minutes:g}")
    logger.info(RULE)


def disabled() -> None:
    """No ``API_BASE_URL``: heartbeats are off, the worker carries on."""
    logger.warning("⚠️  API_BASE_URL no configurado - heartbeat deshabilitado")


def registered() -> None:
    logger.info("✅ Consola registrada exitosamente")


def started() -> None:
    logger.info("✅ Servicio de heartbeat iniciado")


def transition(previous: str, current: str) -> None:
    logger.info("🔄 Estado de consola: %s → %s", previous, current)


def heartbeat_sent(estado: str, video: str | None) -> None:
    if video:
        logger.info("💓 Heartbeat enviado - Estado: %s (%s)", estado, video)
    else:
        logger.info("💓 Heartbeat enviado - Estado: %s", estado)


def send_failed(endpoint: str, detail: str, streak: int) -> None:
    """Logged once per failure streak (the first failure); later ones go to DEBUG."""
    if endpoint == "registrar":
        message = "❌ No se pudo registrar la consola: %s"
    else:
        message = "❌ No se pudo enviar heartbeat: %s"
    logger.log(logging.WARNING if streak == 1 else logging.DEBUG, message, detail)


def recovered(failures: int) -> None:
    logger.info("✅ Conexión con el API restablecida tras %d intento(s) fallido(s)", failures)


def stopped() -> None:
    logger.info("🛑 Servicio de heartbeat detenido")


def sigterm_goodbye() -> None:
    """The SIGTERM handler sent the goodbye; the process now ends as SIGTERM ends it."""
    logger.info("🛑 SIGTERM: servicio de heartbeat detenido; el proceso termina")


def secret_refused(can_enroll: bool) -> None:
    """The API refused this console's secret (rotated elsewhere, or its database was reset)."""
    if can_enroll:
        logger.warning(
            "🔑 El API rechazó el secreto de esta consola; se registra de nuevo con "
            "HEARTBEAT_API_TOKEN"
        )
    else:
        logger.warning(
            "🔑 El API rechazó el secreto de esta consola y falta HEARTBEAT_API_TOKEN para "
            "registrarla de nuevo"
        )


def enrollment_refused(console_id: str) -> None:
    """The API refused HEARTBEAT_API_TOKEN for this id: enrolled elsewhere, or a wrong token."""
    logger.warning(
        "🔑 El API rechazó HEARTBEAT_API_TOKEN para la consola %s: si ya estaba inscrita y "
        "perdió su secreto (.console-secret), un operador debe ejecutar: heartbeat "
        "reset-secret %s (si no, revise HEARTBEAT_API_TOKEN); se seguirá reintentando",
        console_id,
        console_id,
    )


def token_required() -> None:
    """The API requires an enrollment token this console does not have."""
    logger.warning("🔑 El API exige un token de registro: configure HEARTBEAT_API_TOKEN")
