"""Invoice checker settings: every variable starts with INVOICE_CHECKER_."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from invoice_checker.domain.schedule import Cron
from service_kit.settings import ServiceSettings, load_settings

MIN_SESSION_SECRET_BYTES = 32


class InvoiceCheckerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="INVOICE_CHECKER_", env_ignore_empty=True, extra="ignore"
    )

    # 10000ft (Resource Management by Smartsheet) and the hour sync.
    tenkfeet_api_url: str = Field(
        default="https://api.rm.smartsheet.com",
        description="10000ft API host, without /api/v1 (paging.next paths are relative to it)",
    )
    tenkfeet_api_token: SecretStr = Field(
        default=SecretStr(""), description="10000ft API token, sent in the `auth` header"
    )
    tenkfeet_timeout_seconds: float = Field(default=60, gt=0, description="Per request")
    tenkfeet_max_retries: int = Field(
        default=6,
        ge=0,
        le=20,
        description=(
            "Retries of a request on 429 (waiting for X-RateLimit-Reset), 5xx, timeouts, dropped "
            "connections and undecodable JSON, with exponential backoff and jitter"
        ),
    )
    tenkfeet_concurrency: int = Field(
        default=6, ge=1, le=64, description="Days of time entries an hour sync fetches at once"
    )

    # Sign-in: Google OpenID Connect (or a local stand-in), limited to one domain.
    oidc_issuer_url: str = Field(
        default="https://accounts.google.com",
        description=(
            "OpenID Connect issuer; its discovery document is read once per process (tests and the"
            " demo use simulate oidc)"
        ),
    )
    google_client_id: str = Field(
        default="",
        description=(
            "OAuth client id; the callback is /api/v1/auth/callback. Empty: sign-in is off (503 "
            "naming what is missing)"
        ),
    )
    google_client_secret: SecretStr = Field(default=SecretStr(""), description="OAuth secret")
    allowed_domain: str = Field(
        default="",
        description="Only verified e-mails of this domain, with a matching hd claim, sign in",
    )
    session_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Signs the 10-minute sign-in state cookie (state, nonce, PKCE verifier); "
        "in production `serve` and `worker` refuse one shorter than 32 bytes",
    )
    session_hours: int = Field(default=12, ge=1, le=24 * 30, description="Browser session life")
    cookie_secure: bool = Field(
        default=True,
        description="Cookies only over HTTPS; false only for plain-http development "
        "(`serve` and `worker` refuse it in production)",
    )

    # Health data: entries of these leave types show as "Leave" to all but their owner and
    # holders of can_see_sick_leaves (domain/scopes.py).
    sensitive_leave_types: str = Field(
        default="Sick leave",
        description=(
            "Comma-separated 10000ft leave type names whose type and notes only their owner and "
            "can_see_sick_leaves see (to anyone else the entry is Leave)"
        ),
    )

    # Links in Slack messages point here (the original's https://DOMAIN).
    public_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Absolute base of the links in Slack messages (the original's https://DOMAIN)",
    )

    # Slack: notices, /flex-hours, link unfurls. Features without their token report it.
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        description="Slack Web API base; tests and the demo point it at the stand-in",
    )
    slack_bot_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bot token (xoxb-…): notices, users.list, conversations.*",
    )
    slack_workspace_token: SecretStr = Field(
        default=SecretStr(""), description="Token for chat.unfurl (empty: the bot token)"
    )
    slack_signing_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Verifies /flex-hours and Events API requests; empty answers 503",
    )
    slack_notifications_admin: str = Field(
        default="", description="Comma-separated Slack ids that get copies and admin alerts"
    )
    slack_new_project_channels: str = Field(
        default="",
        description=(
            "Comma-separated channel ids told about new projects (besides channels stored with "
            "new_project_notification)"
        ),
    )
    slack_timeout_seconds: int = Field(
        default=30, ge=1, le=300, description="One Slack Web API call's time limit"
    )
    slack_outbox_lease_seconds: float = Field(
        default=120,
        gt=0,
        le=3600,
        description="How long a notice sender holds a message; more than one Slack call takes",
    )

    # AWS billing CSV in S3.
    aws_access_key_id: str = Field(
        default="", description="S3 access key for the billing CSV (empty: AWS import not set up)"
    )
    aws_secret_access_key: SecretStr = Field(default=SecretStr(""), description="S3 secret key")
    aws_region: str = Field(default="eu-west-1", description="S3 region")
    aws_s3_endpoint_url: str = Field(
        default="", description="S3 endpoint (empty: AWS; a stand-in in tests)"
    )
    aws_billing_bucket: str = Field(
        default="solinor-hostmaster-billing", description="Bucket of the monthly billing CSVs"
    )
    aws_billing_key_prefix: str = Field(
        default="321914701408-aws-billing-csv-", description="Key before YYYY-MM.csv"
    )

    # The worker's schedule: 5-field cron strings (minute hour day month weekday, all ANDed,
    # weekday 0-6 = Sunday-Saturday), "off" disables a job. Times are in schedule_timezone.
    schedule_timezone: str = Field(
        default="Europe/Helsinki",
        description="Time zone of every schedule, and of 'today' for flex",
    )
    schedule_sync_hours: Cron = Field(
        default="0 * * * *", description="sync-hours: hour sync of today − 60 … today + 2"
    )
    schedule_sync_users: Cron = Field(default="10 3 * * *", description="sync-users: 10000ft users")
    schedule_sync_projects: Cron = Field(
        default="20 */6 * * *", description="sync-projects: 10000ft projects and phases"
    )
    schedule_sync_holidays: Cron = Field(
        default="30 3 * * *", description="sync-holidays: public holidays"
    )
    schedule_refresh_stats: Cron = Field(
        default="0 2 * * *", description="refresh-stats: every invoice's stats (sanity)"
    )
    schedule_slack_sync: Cron = Field(
        default="40 3 * * *",
        description="slack-sync: Slack ids by e-mail (users.list), channels (conversations.list)",
    )
    schedule_aws_import: Cron = Field(
        default="0 5 * * *",
        description=(
            "aws-import: this month's AWS billing CSV (and last month's on days 1-4), then that "
            "month's stats"
        ),
    )
    schedule_unsubmitted_notice: Cron = Field(
        default="0 10 * * 1",
        description=(
            "unsubmitted-notice: each person with unsubmitted hours in the 60 days to last Sunday;"
            " copies to the admins"
        ),
    )
    schedule_unapproved_notice: Cron = Field(
        default="0 10 * * 2",
        description="unapproved-notice: each project's leads about entries pending approval",
    )
    schedule_flex_notice: Cron = Field(
        default="0 10 1-7 * 3",
        description=(
            "flex-notice: last month's flex saldo to people outside −40…120 h or whose saldo moved"
            " > 10 h"
        ),
    )
    schedule_contract_checks: Cron = Field(
        default="30 9 * * *",
        description="contract-checks: contract problems (per person) to the admins",
    )
    schedule_new_project_notice: Cron = Field(
        default="*/15 * * * *",
        description="new-project-notice: projects created in 10000ft in the last 7 days, once each",
    )
    schedule_housekeeping: Cron = Field(
        default="30 1 * * *",
        description="housekeeping: deletes old events and sync runs, expired or revoked sessions",
    )
    retention_days: int = Field(
        default=90,
        ge=2,
        le=3650,
        description="Housekeeping deletes events and finished sync runs older than this",
    )

    def unsafe_for_production(self) -> str | None:
        if not self.cookie_secure:
            return "COOKIE_SECURE: must be true (session cookies would travel over plain http)"
        if len(self.session_secret.get_secret_value().encode()) < MIN_SESSION_SECRET_BYTES:
            return f"SESSION_SECRET: must be at least {MIN_SESSION_SECRET_BYTES} bytes"
        return None


def get_settings() -> InvoiceCheckerSettings:
    return load_settings(InvoiceCheckerSettings)
