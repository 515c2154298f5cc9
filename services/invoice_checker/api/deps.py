"""Typed dependencies on what the app's lifespan owns."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from invoice_checker.settings import InvoiceCheckerSettings
from service_kit.state import settings_dependency, settings_reader

app_settings = settings_reader(InvoiceCheckerSettings)
SettingsDep = Annotated[InvoiceCheckerSettings, Depends(settings_dependency(app_settings))]
