"""Download the AWS billing CSV from S3 with boto3, in a worker thread (boto3 is blocking)."""

from __future__ import annotations

import asyncio

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from invoice_checker.settings import InvoiceCheckerSettings
from service_kit.settings import require_settings


class S3Error(RuntimeError):
    """S3 could not be read (network, credentials, permissions); the message says which."""


def _download(settings: InvoiceCheckerSettings, key: str) -> str | None:
    client = boto3.client(
        "s3",
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key.get_secret_value(),
        region_name=settings.aws_region,
        endpoint_url=settings.aws_s3_endpoint_url or None,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10),
    )
    try:
        response = client.get_object(Bucket=settings.aws_billing_bucket, Key=key)
        body: bytes = response["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise S3Error(f"s3://{settings.aws_billing_bucket}/{key}: {exc}") from exc
    except BotoCoreError as exc:
        raise S3Error(f"s3://{settings.aws_billing_bucket}/{key}: {exc}") from exc
    return body.decode("utf-8-sig")


async def download_billing_file(settings: InvoiceCheckerSettings, key: str) -> str | None:
    """The file's text, or None when the month's file is not there (yet)."""
    require_settings(settings, "AWS billing", "aws_access_key_id", "aws_secret_access_key")
    return await asyncio.to_thread(_download, settings, key)
