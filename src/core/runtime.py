"""The composition root: builds the core's objects from settings, lazily, once per container.

Handlers ask here for what they need; nothing connects to AWS at import time, and tests
call `reset()` after changing the environment.

Each factory imports its adapter itself, so a cold start pays only for the adapters its first
request uses (a send never loads the worker's courier, nor the attachment fetcher unless it
names files by URL); `tests/unit/test_cold_start_imports.py` keeps it that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from core.settings import get_settings
from core.storage import ItemTable, dynamodb, dynamodb_client
from core.transport.base import Deadline

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from core.access.authentication import Authenticator, Principal
    from core.access.bootstrap_key import BootstrapKey
    from core.access.repository import ApiKeyRepository, RoleRepository
    from core.admission import Admission
    from core.attachments.references import InlineAttachment, Reference
    from core.batch.sender import BatchSender
    from core.delivery.courier import Courier
    from core.delivery.deliver import Deliverer
    from core.delivery.queue import MessageQueue
    from core.delivery.record_store import MessageRepository
    from core.delivery.repair import OutboxRepair
    from core.dispatch import Dispatcher
    from core.events.apply import EventApplier
    from core.message import Attachment
    from core.message_events.fanout import FanOut
    from core.message_events.from_records import RecordsWithEvents
    from core.oauth2.cache import TokenCache, TokenSource
    from core.observability.emf import EmfMetrics
    from core.observability.outcomes import OutcomeMetrics
    from core.secrets import CredentialStore
    from core.sending import Mailer
    from core.services.repository import ServiceRepository
    from core.stats.counters import DailyCounters
    from core.stats.store import StatsRepository
    from core.suppression.suppressions import Suppressions
    from core.templates.repository import TemplateRepository
    from core.transport.factory import Transports
    from core.transport.pool import TransportPool
    from core.webhooks.delivery import WebhookDeliverer
    from core.webhooks.publisher import WebhookPublisher
    from core.webhooks.queue import WebhookQueue
    from core.webhooks.store import WebhookRepository
    from core.webhooks.subscriptions import Webhooks

# Time kept back from the Lambda's remaining time to turn an SMTP timeout into a 504.
RESPONSE_MARGIN_SECONDS = 1.0


@lru_cache(maxsize=1)
def credential_store() -> CredentialStore:
    from core.secrets import CredentialStore

    settings = get_settings()
    return CredentialStore(settings.secret_prefix, cache_seconds=settings.secret_cache_seconds)


@lru_cache(maxsize=1)
def service_repository() -> ServiceRepository:
    from core.services.environment import service_from_settings
    from core.services.repository import ServiceRepository

    settings = get_settings()
    return ServiceRepository(
        ItemTable(settings.services_table, "name"),
        credential_store(),
        fallback=service_from_settings(settings),
    )


@lru_cache(maxsize=1)
def role_repository() -> RoleRepository:
    from core.access.repository import RoleRepository

    return RoleRepository(ItemTable(get_settings().roles_table, "name"))


@lru_cache(maxsize=1)
def api_key_repository() -> ApiKeyRepository:
    from core.access.repository import ApiKeyRepository

    return ApiKeyRepository(api_keys_table(), role_repository(), bootstrap_key())


@lru_cache(maxsize=1)
def api_keys_table() -> ItemTable:
    return ItemTable(get_settings().api_keys_table, "id")


@lru_cache(maxsize=1)
def bootstrap_key() -> BootstrapKey:
    from core.access.bootstrap_key import BootstrapKey
    from core.admin_key import AdminKey

    settings = get_settings()
    secret = AdminKey(
        settings.admin_key_secret_id,
        credential_store().client,
        cache_seconds=settings.secret_cache_seconds,
    )
    return BootstrapKey(api_keys_table(), secret)


@lru_cache(maxsize=1)
def template_repository() -> TemplateRepository:
    from core.templates.repository import TemplateRepository

    return TemplateRepository(ItemTable(get_settings().templates_table, "key"))


@lru_cache(maxsize=1)
def message_repository() -> MessageRepository:
    from core.delivery.record_store import MessageRepository

    return MessageRepository(ItemTable(get_settings().messages_table, "id"))


@lru_cache(maxsize=1)
def suppressions() -> Suppressions:
    """The suppression list: sends consult it, admins and provider events change it."""
    from core.clock import SystemClock
    from core.suppression.store import SuppressionRepository
    from core.suppression.suppressions import Suppressions

    return Suppressions(SuppressionRepository(get_settings().suppressions_table), SystemClock())


def event_applier() -> EventApplier:
    """Provider (SES) events onto message records and the suppression list."""
    from core.events.apply import EventApplier

    return EventApplier(
        message_repository(), suppressions(), message_events(), services=service_repository()
    )


@lru_cache(maxsize=1)
def message_records() -> RecordsWithEvents:
    """The message records as the send path moves them on: each move that happens produces
    its message events (the courier's, in the worker, held for the whole batch)."""
    from core.message_events.from_records import RecordsWithEvents

    return RecordsWithEvents(message_repository(), message_events())


@lru_cache(maxsize=1)
def message_events() -> FanOut:
    """Where message events go: every consumer (the daily counters, the webhooks)."""
    from core.message_events.fanout import FanOut

    return FanOut([daily_counters(), webhook_publisher(), outcome_metrics()])


@lru_cache(maxsize=1)
def metric_recorder() -> EmfMetrics:
    """The process's metrics, flushed by each handler's `log_metrics` (`handlers.observed`)."""
    from core.observability.emf import EmfMetrics, powertools_metrics

    return EmfMetrics(powertools_metrics())


@lru_cache(maxsize=1)
def outcome_metrics() -> OutcomeMetrics:
    """Each message event as its metric: sent, failed by reason, deferred..."""
    from core.observability.outcomes import OutcomeMetrics

    return OutcomeMetrics(metric_recorder())


@lru_cache(maxsize=1)
def daily_counters() -> DailyCounters:
    """The per service and day counters, kept as message events happen."""
    from core.stats.counters import DailyCounters

    return DailyCounters(stats_store())


@lru_cache(maxsize=1)
def stats_store() -> StatsRepository:
    """The daily counters' table: `GET /system/stats` reads it."""
    from core.stats.store import StatsRepository

    return StatsRepository(get_settings().stats_table)


@lru_cache(maxsize=1)
def webhook_repository() -> WebhookRepository:
    from core.webhooks.store import WebhookRepository

    return WebhookRepository(ItemTable(get_settings().webhooks_table, "id"))


@lru_cache(maxsize=1)
def webhook_queue() -> WebhookQueue:
    from core.webhooks.queue import WebhookQueue

    return WebhookQueue(get_settings().webhook_queue_url)


@lru_cache(maxsize=1)
def webhook_publisher() -> WebhookPublisher:
    """Message events into one queued call per subscription that wants each."""
    from core.clock import SystemClock
    from core.webhooks.publisher import WebhookPublisher

    return WebhookPublisher(
        webhook_repository(),
        webhook_queue(),
        SystemClock(),
        cache_seconds=get_settings().webhook_cache_seconds,
    )


@lru_cache(maxsize=1)
def webhook_deliverer() -> WebhookDeliverer:
    from core.clock import SystemClock
    from core.webhooks.delivery import WebhookDeliverer
    from core.webhooks.post import PostPolicy, WebhookPoster
    from core.webhooks.secrets import WebhookSecrets
    from core.webhooks.store import DeliveryLog

    settings = get_settings()
    return WebhookDeliverer(
        webhook_repository(),
        WebhookSecrets(
            settings.secret_prefix,
            cache_seconds=settings.secret_cache_seconds,
            client=credential_store().client,
        ),
        WebhookPoster(PostPolicy.from_settings(settings)),
        DeliveryLog(settings.webhook_deliveries_table),
        SystemClock(),
    )


@lru_cache(maxsize=1)
def webhooks() -> Webhooks:
    """The admin API's subscriptions, their delivery logs and test pings."""
    from core.clock import SystemClock
    from core.network.destination import DestinationPolicy
    from core.webhooks.secrets import WebhookSecrets
    from core.webhooks.store import DeliveryLog
    from core.webhooks.subscriptions import Webhooks

    settings = get_settings()
    return Webhooks(
        webhook_repository(),
        WebhookSecrets(settings.secret_prefix, client=credential_store().client),
        service_repository(),
        DeliveryLog(settings.webhook_deliveries_table),
        webhook_deliverer(),
        SystemClock(),
        destinations=DestinationPolicy.for_outbound_http(settings),
        allow_http=settings.outbound_allow_http,
    )


@lru_cache(maxsize=1)
def message_queue() -> MessageQueue:
    from core.delivery.queue import MessageQueue

    settings = get_settings()
    return MessageQueue(settings.send_queue_url, settings.staging_bucket)


@lru_cache(maxsize=1)
def admission() -> Admission:
    from core.access.rate_limit import RateLimiter
    from core.admission import Admission

    settings = get_settings()
    return Admission(
        RateLimiter(ItemTable(settings.rate_limits_table, "id")),
        max_recipients=settings.max_recipients,
        metrics=metric_recorder(),
    )


@lru_cache(maxsize=1)
def token_cache() -> TokenCache:
    """The process's OAuth2 access tokens: one cache, so one token serves every send of a
    service until it nears its end. The HTTP client is built when a token is first needed."""
    from core.oauth2.cache import ClientOnFirstUse, TokenCache

    def client() -> TokenSource:
        from core.oauth2.client import TokenClient

        return TokenClient.from_settings(get_settings())

    return TokenCache(ClientOnFirstUse(client))


@lru_cache(maxsize=1)
def transports() -> Transports:
    from core.transport.factory import Transports

    settings = get_settings()
    return Transports(
        credential_store(),
        tokens=token_cache(),
        ehlo_name=settings.smtp_ehlo_name,
        ca_file=settings.smtp_ca_file,
    )


@lru_cache(maxsize=1)
def transport_pool() -> TransportPool:
    """The container's open SMTP connections, one per service, shared by every send."""
    from core.transport.pool import TransportPool

    settings = get_settings()
    return TransportPool(
        transports(),
        reuse=settings.smtp_reuse_connections,
        idle_seconds=settings.smtp_idle_seconds,
        max_messages=settings.smtp_max_messages_per_connection,
    )


@lru_cache(maxsize=1)
def deliverer() -> Deliverer:
    from core.delivery.deliver import Deliverer

    return Deliverer(transport_pool(), metrics=metric_recorder())


@lru_cache(maxsize=1)
def mailer() -> Mailer:
    from core.clock import SystemClock
    from core.composition.jinja.limits import RenderLimits
    from core.composition.placeholder_limits import PlaceholderLimits
    from core.sending import Mailer

    return Mailer(
        service_repository(),
        template_repository(),
        fetch_attachments,
        admission(),
        deliverer(),
        message_records(),
        message_queue(),
        SystemClock(),
        suppressions=suppressions(),
        max_message_bytes=get_settings().max_message_bytes,
        placeholder_limits=PlaceholderLimits.from_settings(get_settings()),
        render_limits=RenderLimits.from_settings(get_settings()),
    )


@lru_cache(maxsize=1)
def dispatcher() -> Dispatcher:
    """A send request's way in (HTTP or direct invocation): the mailer, and idempotency."""
    from core.dispatch import Dispatcher

    return Dispatcher(
        mailer(),
        idempotency_store,
        idempotency_seconds=get_settings().idempotency_seconds,
        send_deadline=send_deadline,
    )


def batch_sender() -> BatchSender:
    """A batch's way in (HTTP or direct invocation): the mailer, idempotency, the threshold."""
    from core.batch.sender import BatchSender

    settings = get_settings()
    return BatchSender(
        mailer(),
        idempotency_store,
        idempotency_seconds=settings.idempotency_seconds,
        send_deadline=send_deadline,
        send_now_max=settings.batch_send_now_max,
    )


@lru_cache(maxsize=1)
def courier() -> Courier:
    from core.clock import SystemClock
    from core.delivery.attempt import Attempts, RetryPolicy
    from core.delivery.connection_slots import ConnectionSlots
    from core.delivery.courier import Courier

    settings = get_settings()
    # Less than half an SMTP budget left: hand the message to the next invocation.
    min_seconds_to_start = settings.smtp_timeout_seconds / 2
    attempts = Attempts(
        service_repository(),
        admission(),
        deliverer(),
        message_records(),
        message_queue(),
        SystemClock(),
        # Queued mail is sent as its key and role allow at send time, not when accepted.
        sender_now=authenticator().principal_of,
        suppressions=suppressions(),
        retries=RetryPolicy(
            settings.max_attempts,
            settings.retry_base_seconds,
            window_seconds=settings.retry_window_minutes * 60,
        ),
        # A worker's claim outlives any single SMTP session it can run.
        lease_seconds=round(settings.smtp_timeout_seconds * 3) + 60,
        max_message_bytes=settings.max_message_bytes,
        min_seconds_to_start=min_seconds_to_start,
    )
    return Courier(
        attempts,
        service_repository(),
        deliverer(),
        min_seconds_to_start=min_seconds_to_start,
        # Every worker's connections to a service together stay within its max_connections.
        connection_slots=ConnectionSlots(ItemTable(settings.rate_limits_table, "id")),
    )


@lru_cache(maxsize=1)
def outbox_repair() -> OutboxRepair:
    from core.clock import SystemClock
    from core.delivery.repair import OutboxRepair

    return OutboxRepair(
        message_repository(),
        message_queue(),
        SystemClock(),
        grace_seconds=get_settings().outbox_grace_seconds,
    )


@lru_cache(maxsize=1)
def idempotency_store() -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    # Not Powertools' default client, of a new boto3 session: that one loads every AWS data
    # file again, about 100 ms of the first send with a key.
    return DynamoDBPersistenceLayer(
        table_name=get_settings().idempotency_table, boto3_client=dynamodb_client()
    )


@lru_cache(maxsize=1)
def authenticator() -> Authenticator:
    from core.access.authentication import Authenticator

    settings = get_settings()
    return Authenticator(
        bootstrap_key(),
        api_key_repository(),
        role_repository(),
        cache_seconds=settings.auth_cache_seconds,
        invoke_principal=invoke_principal,
    )


def invoke_principal() -> Principal:
    """Who a direct invocation acts as: the configured role (IAM already let the caller in)."""
    from core.access.authentication import INVOKE_KEY_ID, Principal

    role_name = get_settings().invoke_role
    if not role_name:
        return Principal.bootstrap()
    return Principal(INVOKE_KEY_ID, role_repository().by_name(role_name))


def fetch_attachments(
    entries: Sequence[Reference | InlineAttachment], *, budget: int
) -> list[Attachment]:
    """An `AttachmentSource`: the files one request names, fetched as the settings allow,
    within the operator's per-fetch time limit for all of them together."""
    from core.attachments.fetch import AttachmentFetcher, FetchPolicy

    policy = FetchPolicy.from_settings(get_settings())
    fetcher = AttachmentFetcher(policy, budget=budget)
    return fetcher.gather(entries, Deadline.after(policy.timeout_seconds))


def answer_deadline(remaining_millis: int) -> Deadline:
    """When an invocation with `remaining_millis` left must have its answer ready."""
    return Deadline.after(remaining_millis / 1000 - RESPONSE_MARGIN_SECONDS)


def send_deadline(remaining_millis: int | None) -> Deadline:
    """The SMTP timeout, cut short so the Lambda can still answer before it is killed."""
    budget = get_settings().smtp_timeout_seconds
    if remaining_millis is not None:
        budget = min(budget, remaining_millis / 1000 - RESPONSE_MARGIN_SECONDS)
    return Deadline.after(budget)


def reset() -> None:
    """Close the kept SMTP connections and forget every cached object (tests change the
    environment between cases, and must leave no connection open for the next one)."""
    if transport_pool.cache_info().currsize:
        transport_pool().close_all()
    for cached in (
        get_settings,
        dynamodb,
        credential_store,
        service_repository,
        role_repository,
        api_key_repository,
        api_keys_table,
        bootstrap_key,
        template_repository,
        message_repository,
        message_records,
        suppressions,
        message_events,
        metric_recorder,
        outcome_metrics,
        daily_counters,
        stats_store,
        webhook_repository,
        webhook_queue,
        webhook_publisher,
        webhook_deliverer,
        webhooks,
        message_queue,
        admission,
        token_cache,
        transports,
        transport_pool,
        deliverer,
        mailer,
        dispatcher,
        courier,
        outbox_repair,
        idempotency_store,
        authenticator,
    ):
        cached.cache_clear()
