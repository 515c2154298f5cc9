"""Invoice checker settings: every variable starts with INVOICE_CHECKER_."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from invoice_checker.domain.schedule import Cron
from service_kit.settings import ServiceSettings, load_settings


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
    tenkfeet_timeout_seconds: float = Field(default=60, gt=0, description="Per-request timeout")
    tenkfeet_max_retries: int = Field(
        default=6, ge=0, le=20, description="Retries on 429, 5xx and timeouts, with backoff"
    )
    tenkfeet_concurrency: int = Field(
        default=6, ge=1, le=64, description="Time-entry days fetched at once"
    )

    # Sign-in: Google OpenID Connect (or a local stand-in), limited to one domain.
    oidc_issuer_url: str = Field(
        default="https://accounts.google.com",
        description="OpenID Connect issuer; its /.well-known/openid-configuration is read",
    )
    google_client_id: str = Field(default="", description="OAuth client id (empty: no sign-in)")
    google_client_secret: SecretStr = Field(default=SecretStr(""), description="OAuth secret")
    allowed_domain: str = Field(default="", description="Only e-mails of this domain sign in")
    session_secret: SecretStr = Field(
        default=SecretStr(""), description="Signs the short-lived sign-in state cookie"
    )
    session_hours: int = Field(default=12, ge=1, le=24 * 30, description="Browser session life")
    cookie_secure: bool = Field(default=True, description="Send cookies over HTTPS only")

    # Health data: entries of these leave types show as "Leave" to all but their owner and
    # holders of can_see_sick_leaves (domain/scopes.py).
    sensitive_leave_types: str = Field(
        default="Sick leave", description="Comma-separated 10000ft leave type names"
    )

    # Links in Slack messages point here (the original's https://DOMAIN).
    public_url: str = Field(
        default="http://127.0.0.1:8001", description="Absolute base URL of this service"
    )

    # Slack: notices, /flex-hours, link unfurls. Features without their token report it.
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base (a stand-in in tests)"
    )
    slack_bot_token: SecretStr = Field(
        default=SecretStr(""), description="Bot token (xoxb-): messages, users, channels"
    )
    slack_workspace_token: SecretStr = Field(
        default=SecretStr(""), description="Token for chat.unfurl (empty: the bot token)"
    )
    slack_signing_secret: SecretStr = Field(
        default=SecretStr(""), description="Verifies /flex-hours and Events API requests"
    )
    slack_notifications_admin: str = Field(
        default="", description="Comma-separated Slack ids that get copies and admin alerts"
    )
    slack_new_project_channels: str = Field(
        default="", description="Comma-separated channel ids told about new projects"
    )

    # AWS billing CSV in S3.
    aws_access_key_id: str = Field(default="", description="S3 access key (empty: not set up)")
    aws_secret_access_key: SecretStr = Field(default=SecretStr(""), description="S3 secret key")
    aws_region: str = Field(default="eu-west-1", description="S3 region")
    aws_s3_endpoint_url: str = Field(
        default="", description="S3 endpoint (empty: AWS; a stand-in in tests)"
    )
    aws_billing_bucket: str = Field(
        default="solinor-hostmaster-billing", description="Bucket of the billing CSVs"
    )
    aws_billing_key_prefix: str = Field(
        default="321914701408-aws-billing-csv-", description="Key before YYYY-MM.csv"
    )

    # The worker's schedule: 5-field cron strings (minute hour day month weekday, all ANDed,
    # weekday 0-6 = Sunday-Saturday), "off" disables a job. Times are in schedule_timezone.
    schedule_timezone: str = Field(default="Europe/Helsinki", description="Time zone of crons")
    schedule_sync_hours: Cron = Field(default="0 * * * *", description="Hour sync, last 60 days")
    schedule_sync_users: Cron = Field(default="10 3 * * *", description="10000ft users sync")
    schedule_sync_projects: Cron = Field(default="20 */6 * * *", description="Projects sync")
    schedule_sync_holidays: Cron = Field(default="30 3 * * *", description="Public holidays sync")
    schedule_refresh_stats: Cron = Field(default="0 2 * * *", description="All invoice stats")
    schedule_slack_sync: Cron = Field(default="40 3 * * *", description="Slack users, channels")
    schedule_aws_import: Cron = Field(default="0 5 * * *", description="AWS billing import")
    schedule_unsubmitted_notice: Cron = Field(default="0 10 * * 1", description="Mondays")
    schedule_unapproved_notice: Cron = Field(default="0 10 * * 2", description="Tuesdays")
    schedule_flex_notice: Cron = Field(default="0 10 1-7 * 3", description="First Wednesday")
    schedule_contract_checks: Cron = Field(default="30 9 * * *", description="Contract checks")
    schedule_new_project_notice: Cron = Field(default="*/15 * * * *", description="Projects")
    schedule_housekeeping: Cron = Field(default="30 1 * * *", description="Old rows removed")
    retention_days: int = Field(
        default=90, ge=2, le=3650, description="Events and finished sync runs kept this long"
    )


def get_settings() -> InvoiceCheckerSettings:
    return load_settings(InvoiceCheckerSettings)
